package org.jvisor.devices.state;

/**
 * A device model whose architectural state can be saved as an {@code S} and restored from one.
 *
 * <p>{@link #saveState()} reads the registers as they are (the caller keeps the guest from
 * driving the device meanwhile: vCPUs paused, queue processing idle). {@link #restoreState} puts a
 * saved state into a device built with the same configuration: it checks every field first and
 * refuses bad input with a {@link DeviceStateException} naming the field, then recomputes what is
 * derived (IRQ line levels, pending vectors, timers on this machine's clock). Saving after a
 * restore gives back an equal record.
 */
public interface StatefulDevice<S extends DeviceState> {

    S saveState();

    void restoreState(S state) throws DeviceStateException;

    /** The record type this device saves, for callers that hold states of many devices. */
    Class<S> stateType();

    /** {@link #restoreState} for a state of unknown type (read from a file): refused unless it is an {@code S}. */
    default void restoreAny(DeviceState state) throws DeviceStateException {
        if (!stateType().isInstance(state)) {
            throw DeviceStateException.wrongKind(getClass().getSimpleName(), stateType(), state);
        }
        restoreState(stateType().cast(state));
    }
}
