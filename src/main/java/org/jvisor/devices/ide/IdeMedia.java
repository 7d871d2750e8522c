package org.jvisor.devices.ide;

/** What sits at an IDE position: a disk (ATA) or a CD-ROM (ATAPI), QEMU's media=disk|cdrom. */
public enum IdeMedia {
    DISK, CDROM
}
