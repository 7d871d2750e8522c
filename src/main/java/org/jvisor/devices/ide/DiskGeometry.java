package org.jvisor.devices.ide;

/**
 * The cylinder/head/sector geometry a disk reports in IDENTIFY DEVICE and uses for CHS
 * addressing. QEMU's guess for a disk without a configured geometry (hw/block/hd-geometry.c):
 * 16 heads, 63 sectors per track, as many cylinders as fit, between 2 and 16383.
 */
record DiskGeometry(int cylinders, int heads, int sectors) {
    static final int MAX_CYLINDERS = 16383;

    static DiskGeometry guess(long totalSectors) {
        long c = totalSectors / (16 * 63);
        return new DiskGeometry((int) Math.max(2, Math.min(MAX_CYLINDERS, c)), 16, 63);
    }

    /** Sectors the geometry addresses. */
    long capacity() {
        return (long) cylinders * heads * sectors;
    }

    /** CHS to LBA (ATA/ATAPI-6, annex B); sector numbers start at 1, so sector 0 gives -1. */
    long toLba(int cylinder, int head, int sector) {
        return ((long) cylinder * heads + head) * sectors + sector - 1;
    }
}
