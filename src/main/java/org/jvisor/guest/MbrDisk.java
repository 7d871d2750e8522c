package org.jvisor.guest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A disk with an MS-DOS partition table (one bootable Linux partition from 1 MiB, as fdisk and
 * the Debian installer align it) and GRUB installed the way grub-install does on BIOS: the boot
 * code of GRUB's {@code boot.img} in the MBR (its first 440 bytes; the disk signature, table and
 * 0x55AA stay the MBR's) and {@code core.img} in the gap between the MBR and the partition.
 * boot.img's defaults already point at sector 1 (its kernel_sector field) and diskboot.img's
 * block list at sector 2 on (grub-mkimage fills the length), so nothing needs patching.
 */
final class MbrDisk {
    static final int SECTOR = 512;
    static final long PARTITION_START = 2048;
    /** The boot code area of an MBR; the disk signature and partition table follow (0x1B8). */
    static final int BOOT_CODE = 440;
    static final int PARTITION_TABLE = 0x1BE;
    static final int TYPE_LINUX = 0x83;

    private MbrDisk() {
    }

    /** Byte offset of the partition: where the file system goes. */
    static long partitionOffset() {
        return PARTITION_START * SECTOR;
    }

    /**
     * Writes the MBR and core.img into {@code image} (of {@code diskBytes} bytes, the file
     * system already at {@link #partitionOffset()}).
     */
    static void install(Path image, long diskBytes, byte[] bootImg, byte[] coreImg) throws IOException {
        if (bootImg.length != SECTOR) {
            throw new GuestBuildException("GRUB's boot.img is " + bootImg.length + " bytes, not 512");
        }
        if (coreImg.length > (PARTITION_START - 1) * SECTOR) {
            throw new GuestBuildException("GRUB's core.img (" + coreImg.length + " bytes) does not fit the "
                + (PARTITION_START - 1) * SECTOR + " bytes before the partition");
        }
        long sectors = diskBytes / SECTOR - PARTITION_START;
        ByteBuffer mbr = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
        mbr.put(bootImg, 0, BOOT_CODE);
        mbr.putInt(BOOT_CODE, 0x4A56_4D31);                 // disk signature "1MVJ"
        mbr.position(PARTITION_TABLE);
        mbr.put((byte) 0x80);                                // bootable
        mbr.put(new byte[] {(byte) 0xFE, (byte) 0xFF, (byte) 0xFF}); // CHS: past 8 GiB, use the LBA fields
        mbr.put((byte) TYPE_LINUX);
        mbr.put(new byte[] {(byte) 0xFE, (byte) 0xFF, (byte) 0xFF});
        mbr.putInt((int) PARTITION_START);
        mbr.putInt((int) sectors);
        mbr.put(510, (byte) 0x55).put(511, (byte) 0xAA);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(mbr.array()), 0);
            ch.write(ByteBuffer.wrap(coreImg), SECTOR);
        }
    }
}
