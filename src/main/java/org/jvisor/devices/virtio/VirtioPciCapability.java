package org.jvisor.devices.virtio;

/**
 * One virtio vendor-specific PCI capability (virtio 1.2, 4.1.4: struct virtio_pci_cap, and
 * virtio_pci_notify_cap for {@link #NOTIFY}): plain data for the PCI side to place in config space.
 *
 * @param cfgType             {@link #COMMON}, {@link #NOTIFY}, {@link #ISR}, {@link #DEVICE}, {@link #PCI_CFG}
 * @param bar                 the BAR holding the structure
 * @param offset              where it starts in the BAR
 * @param length              its length in bytes
 * @param notifyOffMultiplier for {@link #NOTIFY} only (else 0)
 */
public record VirtioPciCapability(int cfgType, int bar, int offset, int length, int notifyOffMultiplier) {
    public static final int COMMON = 1;
    public static final int NOTIFY = 2;
    public static final int ISR = 3;
    public static final int DEVICE = 4;
    public static final int PCI_CFG = 5;
    /** PCI capability ID of vendor-specific capabilities. */
    public static final int CAP_ID_VENDOR = 0x09;

    /** cap_len: 16 bytes, 20 for the notify capability (+notify_off_multiplier) and PCI_CFG (+pci_cfg_data). */
    public int capLength() {
        return cfgType == NOTIFY || cfgType == PCI_CFG ? 20 : 16;
    }

    /**
     * The capability as it appears in config space, {@link #capLength()} bytes starting with
     * cap_vndr (0x09); cap_next (byte 1) is left 0 for the PCI side to chain.
     */
    public byte[] bytes() {
        byte[] b = new byte[capLength()];
        b[0] = (byte) CAP_ID_VENDOR;
        b[1] = 0;
        b[2] = (byte) capLength();
        b[3] = (byte) cfgType;
        b[4] = (byte) bar;
        b[5] = 0; // id: only one structure of each type
        putLe32(b, 8, offset);
        putLe32(b, 12, length);
        if (cfgType == NOTIFY) {
            putLe32(b, 16, notifyOffMultiplier);
        }
        return b;
    }

    private static void putLe32(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
        b[at + 2] = (byte) (v >>> 16);
        b[at + 3] = (byte) (v >>> 24);
    }
}
