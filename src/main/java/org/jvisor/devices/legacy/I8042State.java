package org.jvisor.devices.legacy;

import java.util.List;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of an {@link I8042} and its keyboard: controller RAM (byte 0 is the
 * command byte), the output port, the command awaiting its data byte, the output buffer, the bytes
 * queued behind it, and the keyboard's own settings. IRQ1/IRQ12 levels and the A20 line are
 * derived. Queued entries are a byte plus the controller's flags (bit 8 from the auxiliary port,
 * bit 9 time-out).
 *
 * @param ram                 the 32 bytes of controller RAM
 * @param outputPort          the output port (reset and A20 lines)
 * @param lastWriteWasCommand STATUS.CMD: the last write went to port 0x64
 * @param pendingCommand      a controller command waiting for its data byte, or 0
 * @param output              the output buffer's byte and flags
 * @param outputFull          STATUS.OBF
 * @param controllerQueue     controller answers waiting for the output buffer, oldest first
 * @param keyboardQueue       keyboard bytes waiting for the output buffer, oldest first
 * @param keyboardPending     a keyboard command waiting for its argument, or 0
 * @param scanning            the keyboard sends scan codes (0xF4/0xF5)
 * @param scanCodeSet         the keyboard's scan-code set, 1-3
 * @param leds                the keyboard LEDs, bits 2:0
 */
public record I8042State(Bytes ram, int outputPort, boolean lastWriteWasCommand, int pendingCommand, int output,
                         boolean outputFull, List<Integer> controllerQueue, List<Integer> keyboardQueue,
                         int keyboardPending, boolean scanning, int scanCodeSet, int leds) implements DeviceState {
    public static final int VERSION = 1;

    public I8042State {
        controllerQueue = List.copyOf(controllerQueue);
        keyboardQueue = List.copyOf(keyboardQueue);
    }

    @Override
    public int version() {
        return VERSION;
    }
}
