package org.jvisor.devices.virtio;

/** Constants of the virtio 1.2 specification shared by the queue, the transports and the devices. */
public final class Virtio {
    private Virtio() {
    }

    // Device status (2.1)
    public static final int STATUS_ACKNOWLEDGE = 0x01;
    public static final int STATUS_DRIVER = 0x02;
    public static final int STATUS_DRIVER_OK = 0x04;
    public static final int STATUS_FEATURES_OK = 0x08;
    public static final int STATUS_DEVICE_NEEDS_RESET = 0x40;
    public static final int STATUS_FAILED = 0x80;

    // Reserved feature bits (6)
    public static final int F_RING_INDIRECT_DESC = 28;
    public static final int F_RING_EVENT_IDX = 29;
    public static final int F_VERSION_1 = 32;
    public static final int F_ACCESS_PLATFORM = 33;

    // Device types (5)
    public static final int ID_NET = 1;
    public static final int ID_BLOCK = 2;
    public static final int ID_CONSOLE = 3;
    public static final int ID_RNG = 4;
    public static final int ID_BALLOON = 5;
    public static final int ID_FS = 26;

    /** Interrupt status bits (ISR of virtio-pci, InterruptStatus of virtio-mmio). */
    public static final int INT_VRING = 0x01;
    public static final int INT_CONFIG = 0x02;

    public static long bit(int feature) {
        return 1L << feature;
    }

    public static boolean has(long features, int feature) {
        return (features & (1L << feature)) != 0;
    }
}
