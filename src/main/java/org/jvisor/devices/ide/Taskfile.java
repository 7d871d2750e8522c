package org.jvisor.devices.ide;

/**
 * One drive's copy of the command block registers. Every register but the device register is a
 * two-deep FIFO (ATA/ATAPI-6, 6.20): a write pushes the previous value into the "high order byte"
 * half, which 48-bit commands use and which reads return while device control's HOB bit is set.
 * Both drives of a channel latch every write, as on a real cable (and in QEMU).
 */
final class Taskfile {
    int feature;
    int hobFeature;
    int count;
    int hobCount;
    int lbaLow;
    int hobLbaLow;
    int lbaMid;
    int hobLbaMid;
    int lbaHigh;
    int hobLbaHigh;
    int device;

    void write(AtaRegister r, int value) {
        int v = value & 0xFF;
        switch (r) {
            case ERROR_FEATURES -> {
                hobFeature = feature;
                feature = v;
            }
            case SECTOR_COUNT -> {
                hobCount = count;
                count = v;
            }
            case LBA_LOW -> {
                hobLbaLow = lbaLow;
                lbaLow = v;
            }
            case LBA_MID -> {
                hobLbaMid = lbaMid;
                lbaMid = v;
            }
            case LBA_HIGH -> {
                hobLbaHigh = lbaHigh;
                lbaHigh = v;
            }
            default -> throw new IllegalArgumentException(r.name());
        }
    }

    /** A register's value; {@code hob}: its high-order half. */
    int read(AtaRegister r, boolean hob) {
        return switch (r) {
            case SECTOR_COUNT -> hob ? hobCount : count;
            case LBA_LOW -> hob ? hobLbaLow : lbaLow;
            case LBA_MID -> hob ? hobLbaMid : lbaMid;
            case LBA_HIGH -> hob ? hobLbaHigh : lbaHigh;
            case DEVICE -> device;
            default -> throw new IllegalArgumentException(r.name());
        };
    }

    boolean lbaMode() {
        return (device & Ata.DEVICE_LBA) != 0;
    }

    /** The sector count of a command: 0 means 256 (28-bit) or 65536 (48-bit). */
    int sectorCount(boolean ext) {
        int n = ext ? hobCount << 8 | count : count;
        return n == 0 ? (ext ? 65536 : 256) : n;
    }

    /** The address of a command: LBA48, LBA28, or CHS translated through {@code g}. */
    long address(boolean ext, DiskGeometry g) {
        if (ext) {
            return (long) hobLbaHigh << 40 | (long) hobLbaMid << 32 | (long) hobLbaLow << 24
                | (long) lbaHigh << 16 | (long) lbaMid << 8 | lbaLow;
        }
        if (lbaMode()) {
            return (long) (device & 0x0F) << 24 | (long) lbaHigh << 16 | (long) lbaMid << 8 | lbaLow;
        }
        return g.toLba(lbaMid | lbaHigh << 8, device & 0x0F, lbaLow);
    }

    /** Leaves {@code lba} in the address registers, as a drive does after a transfer or an error. */
    void setAddress(long lba, boolean ext, DiskGeometry g) {
        if (ext) {
            lbaLow = (int) lba & 0xFF;
            lbaMid = (int) (lba >>> 8) & 0xFF;
            lbaHigh = (int) (lba >>> 16) & 0xFF;
            hobLbaLow = (int) (lba >>> 24) & 0xFF;
            hobLbaMid = (int) (lba >>> 32) & 0xFF;
            hobLbaHigh = (int) (lba >>> 40) & 0xFF;
        } else if (lbaMode()) {
            lbaLow = (int) lba & 0xFF;
            lbaMid = (int) (lba >>> 8) & 0xFF;
            lbaHigh = (int) (lba >>> 16) & 0xFF;
            device = device & 0xF0 | (int) (lba >>> 24) & 0x0F;
        } else {
            int spc = g.heads() * g.sectors();
            long cylinder = lba / spc;
            int r = (int) (lba % spc);
            lbaMid = (int) cylinder & 0xFF;
            lbaHigh = (int) (cylinder >>> 8) & 0xFF;
            device = device & 0xF0 | (r / g.sectors()) & 0x0F;
            lbaLow = r % g.sectors() + 1;
        }
    }

    /**
     * The signature a drive leaves after a reset or diagnostic (ATA/ATAPI-6, 9.12): count and
     * LBA low 1, LBA mid/high 0x14/0xEB for a packet device and 0 for a disk; head bits cleared.
     */
    void signature(boolean packetDevice) {
        count = 1;
        lbaLow = 1;
        lbaMid = packetDevice ? 0x14 : 0;
        lbaHigh = packetDevice ? 0xEB : 0;
        device &= 0xF0;
    }

    void clear(int unit) {
        feature = hobFeature = count = hobCount = lbaLow = hobLbaLow = lbaMid = hobLbaMid = lbaHigh = hobLbaHigh = 0;
        device = Ata.DEVICE_OBSOLETE | (unit == 1 ? Ata.DEVICE_DEV : 0);
    }

    TaskfileState save() {
        return new TaskfileState(feature, hobFeature, count, hobCount, lbaLow, hobLbaLow, lbaMid, hobLbaMid, lbaHigh,
            hobLbaHigh, device);
    }

    void restore(TaskfileState s) {
        feature = s.feature() & 0xFF;
        hobFeature = s.hobFeature() & 0xFF;
        count = s.count() & 0xFF;
        hobCount = s.hobCount() & 0xFF;
        lbaLow = s.lbaLow() & 0xFF;
        hobLbaLow = s.hobLbaLow() & 0xFF;
        lbaMid = s.lbaMid() & 0xFF;
        hobLbaMid = s.hobLbaMid() & 0xFF;
        lbaHigh = s.lbaHigh() & 0xFF;
        hobLbaHigh = s.hobLbaHigh() & 0xFF;
        device = s.device() & 0xFF;
    }
}
