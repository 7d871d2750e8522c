package org.jvisor.boot.acpi;

/**
 * A virtio-mmio transport as the DSDT announces it (Linux's virtio_mmio driver matches _HID
 * "LNRO0005"): its register window and its interrupt, a GSI on the I/O APIC, level-triggered and
 * active high as QEMU's microvm declares it (the transport's InterruptStatus holds the line until
 * the driver acknowledges). GSIs 16-23 avoid the ISA IRQs.
 */
public record VirtioMmioDevice(long base, long size, int gsi) {
    public VirtioMmioDevice {
        if (base < 0 || size <= 0 || base + size > 0x1_0000_0000L) {
            throw new IllegalArgumentException(String.format(
                "virtio-mmio window %#x+%#x must lie below 4 GiB (Memory32Fixed)", base, size));
        }
        if (gsi < 0) {
            throw new IllegalArgumentException("bad GSI " + gsi);
        }
    }
}
