package org.jvisor.devices.ide;

import java.util.Arrays;

/**
 * The 256 words of IDENTIFY DEVICE and IDENTIFY PACKET DEVICE (ATA/ATAPI-6, 8.15-8.16), with the
 * values QEMU 7.2's ide-hd and ide-cd report (hw/ide/core.c), so that a guest's driver sees the
 * same device on both: model "QEMU HARDDISK"/"QEMU DVD-ROM", firmware "2.5+", serial "QM0000n",
 * multiword DMA 0-2 and UDMA 0-5 supported, LBA48, FLUSH CACHE (EXT), write cache.
 */
final class IdentifyData {
    static final String DISK_MODEL = "QEMU HARDDISK";
    static final String CDROM_MODEL = "QEMU DVD-ROM";
    static final String FIRMWARE = "2.5+";
    /** SET FEATURES' transfer mode at power-on: UDMA mode 5, as QEMU's word 88 says. */
    static final int DEFAULT_TRANSFER_MODE = 0x45;

    private IdentifyData() {
    }

    /** QEMU's default serial of the n-th drive (from 1): "QM00001". */
    static String serial(int n) {
        return String.format("QM%05d", n);
    }

    /**
     * IDENTIFY DEVICE of a disk of {@code sectors} 512-byte sectors.
     *
     * @param multiple     the READ/WRITE MULTIPLE block size now set (0: none)
     * @param transferMode the mode SET FEATURES selected (its sector count value)
     * @param writeCache   the volatile write cache is enabled
     * @param queueDepth   native command queuing's depth behind a SATA host that offers it (0: none)
     */
    static void disk(byte[] out, String serial, long sectors, DiskGeometry g, int multiple, int transferMode,
                     boolean writeCache, int queueDepth) {
        Arrays.fill(out, 0, 512, (byte) 0);
        put(out, 0, 0x0040);                    // fixed device
        put(out, 1, g.cylinders());
        put(out, 3, g.heads());
        put(out, 4, 512 * g.sectors());         // retired: bytes per track
        put(out, 5, 512);                       // retired: bytes per sector
        put(out, 6, g.sectors());
        text(out, 10, serial, 20);
        put(out, 20, 3);                        // retired: buffer type
        put(out, 21, 512);                      // retired: buffer size
        put(out, 22, 4);                        // obsolete: ECC bytes
        text(out, 23, FIRMWARE, 8);
        text(out, 27, DISK_MODEL, 40);
        put(out, 47, 0x8000 | Ata.MAX_MULTIPLE);
        put(out, 48, 1);                        // dword I/O
        put(out, 49, 1 << 11 | 1 << 9 | 1 << 8); // IORDY, LBA, DMA
        put(out, 51, 0x200);                    // PIO timing mode 2
        put(out, 52, 0x200);
        put(out, 53, 0x7);                      // words 54-58, 64-70 and 88 are valid
        put(out, 54, g.cylinders());
        put(out, 55, g.heads());
        put(out, 56, g.sectors());
        long chs = g.capacity();
        put(out, 57, (int) chs);
        put(out, 58, (int) (chs >>> 16));
        if (multiple != 0) {
            put(out, 59, 0x100 | multiple);
        }
        long lba28 = Math.min(sectors, 0x0FFF_FFFFL);
        put(out, 60, (int) lba28);
        put(out, 61, (int) (lba28 >>> 16));
        transferModes(out, transferMode);
        put(out, 64, 0x03);                     // PIO modes 3 and 4
        put(out, 65, 120);
        put(out, 66, 120);
        put(out, 67, 120);
        put(out, 68, 120);
        if (queueDepth > 0) {
            put(out, 75, queueDepth - 1);       // queue depth (ATA8-ACS 7.16.7.38), as QEMU's AHCI drives
            put(out, 76, 1 << 8);               // SATA capabilities: NCQ
        }
        put(out, 69, 1 << 14);                  // deterministic read after TRIM (as QEMU's discarding ide-hd)
        put(out, 80, 0xF0);                     // ATA-4 to ATA-7
        put(out, 81, 0x16);
        put(out, 82, 1 << 14 | 1 << 5 | 1);     // NOP, write cache, SMART
        put(out, 83, 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10); // FLUSH CACHE EXT, FLUSH CACHE, LBA48
        put(out, 84, 1 << 14 | 1 << 6);         // WRITE DMA/MULTIPLE FUA EXT
        put(out, 85, 1 << 14 | (writeCache ? 1 << 5 : 0) | 1);
        put(out, 86, 1 << 13 | 1 << 12 | 1 << 10);
        put(out, 87, 1 << 14 | 1 << 6);
        put(out, 93, 1 | 1 << 14 | 0x2000);     // hardware reset result: device 0 by jumper, CBLID
        for (int i = 0; i < 4; i++) {
            put(out, 100 + i, (int) (sectors >>> (16 * i)));
        }
        put(out, 106, 0x6000);                  // one logical sector per physical sector
        put(out, 169, 1);                       // DATA SET MANAGEMENT with TRIM (ACS-3 7.12.7.77)
    }

    /** IDENTIFY PACKET DEVICE of a CD-ROM (removable, 12-byte packets, DRQ within 50 µs). */
    static void cdrom(byte[] out, String serial, int transferMode) {
        Arrays.fill(out, 0, 512, (byte) 0);
        put(out, 0, 2 << 14 | 5 << 8 | 1 << 7 | 2 << 5);
        text(out, 10, serial, 20);
        put(out, 20, 3);
        put(out, 21, 512);
        put(out, 22, 4);
        text(out, 23, FIRMWARE, 8);
        text(out, 27, CDROM_MODEL, 40);
        put(out, 48, 1);
        put(out, 49, 1 << 9 | 1 << 8);          // LBA, DMA
        put(out, 53, 7);
        transferModes(out, transferMode);
        put(out, 64, 3);
        put(out, 65, 0xB4);
        put(out, 66, 0xB4);
        put(out, 67, 0x12C);
        put(out, 68, 0xB4);
        put(out, 71, 30);
        put(out, 72, 30);
        put(out, 80, 0x1E);                     // up to ATA/ATAPI-4
    }

    /** Words 62, 63 and 88: DMA modes supported (0-2, UDMA 0-5) and the one selected. */
    private static void transferModes(byte[] out, int mode) {
        int sel = 1 << ((mode & 7) + 8);
        put(out, 62, 0x07 | (mode >> 3 == 0x02 ? sel : 0));
        put(out, 63, 0x07 | (mode >> 3 == 0x04 ? sel : 0));
        put(out, 88, 0x3F | (mode >> 3 == 0x08 ? sel : 0));
    }

    /** Whether SET FEATURES may select {@code mode}: PIO default/flow control, single word, multiword or Ultra DMA. */
    static boolean validTransferMode(int mode) {
        int kind = (mode & 0xFF) >> 3;
        return kind == 0 || kind == 1 || kind == 2 || kind == 4 || kind == 8;
    }

    private static void put(byte[] out, int word, int value) {
        out[2 * word] = (byte) value;
        out[2 * word + 1] = (byte) (value >>> 8);
    }

    /** An ATA string: space-padded, two characters per word, the first in the high byte. */
    private static void text(byte[] out, int word, String s, int length) {
        for (int i = 0; i < length; i++) {
            char c = i < s.length() ? s.charAt(i) : ' ';
            out[2 * word + (i ^ 1)] = (byte) c;
        }
    }
}
