package org.jvisor.machine;

import org.jvisor.devices.state.StatefulDevice;

/**
 * One device of a machine as its {@link DeviceRegistry} holds it: a stable id (the name a snapshot
 * file and the monitor use) and what each lifecycle loop does to it. Every step is optional: a
 * PCI function has no reset of its own (the bus resets it), isa-debug-exit has no state.
 *
 * @param id    stable and unique in the machine, e.g. "serial0", "lapic1", "virtio-blk0@pci.0:03.0"
 * @param state its architectural state, or null for a device without any
 * @param start the machine is about to run: host input starts to flow, work saved in flight resumes
 * @param reset back to the power-on state (a system reset, all vCPUs paused)
 * @param close releases threads and backends (the machine ends); must not throw past the device
 */
record MachineDevice(String id, StatefulDevice<?> state, Runnable start, Runnable reset, Closer close) {
    private static final Runnable NOTHING = () -> { };

    /** How a device lets go of its host resources; an I/O error is reported with the device's id. */
    @FunctionalInterface
    interface Closer {
        void close() throws java.io.IOException;
    }

    MachineDevice {
        if (id == null || id.isEmpty()) {
            throw new IllegalArgumentException("a device needs an id");
        }
    }

    /** A device with state {@code state} (may be null) and nothing to start, reset or close. */
    static MachineDevice of(String id, StatefulDevice<?> state) {
        return new MachineDevice(id, state, NOTHING, NOTHING, () -> { });
    }

    MachineDevice onStart(Runnable r) {
        return new MachineDevice(id, state, r, reset, close);
    }

    MachineDevice onReset(Runnable r) {
        return new MachineDevice(id, state, start, r, close);
    }

    MachineDevice onClose(Closer c) {
        return new MachineDevice(id, state, start, reset, c);
    }
}
