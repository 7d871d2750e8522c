package org.jvisor.machine;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.devices.virtio.VirtioMmioTransport;
import org.jvisor.config.MachineConfig;

/**
 * Where the microvm machine puts its virtio-mmio transports: 512-byte windows from 0xFEB0_0000
 * (below the IOAPIC, where QEMU's microvm has them too), the n-th on IOAPIC input 16 + n. One
 * place for the bus (which registers the windows) and the DSDT (which announces them).
 */
record VirtioMmioSlot(long base, int gsi) {
    static final long FIRST_BASE = 0xFEB0_0000L;
    static final int FIRST_GSI = 16;
    /** GSIs 16-23: the IOAPIC's inputs above the ISA IRQs (24 pins, on both engines). */
    static final int MAX = 8;

    static VirtioMmioSlot of(int index) {
        if (index < 0 || index >= MAX) {
            throw new IllegalArgumentException("the microvm machine has " + MAX + " virtio-mmio transports, not "
                + (index + 1));
        }
        return new VirtioMmioSlot(FIRST_BASE + (long) index * VirtioMmioTransport.WINDOW_SIZE, FIRST_GSI + index);
    }

    /** The slots of a configuration's virtio-mmio devices, in command-line order. */
    static List<VirtioMmioSlot> of(MachineConfig config) {
        List<VirtioMmioSlot> slots = new ArrayList<>();
        for (MachineConfig.VirtioDeviceConfig d : config.virtioDevices()) {
            if (d.transport() == MachineConfig.Transport.MMIO) {
                slots.add(of(slots.size()));
            }
        }
        return slots;
    }
}
