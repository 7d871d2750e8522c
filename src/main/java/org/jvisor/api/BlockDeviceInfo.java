package org.jvisor.api;

import java.nio.file.Path;

/**
 * A disk the machine's devices use, as QMP's query-block describes it.
 *
 * @param id        the drive's id (-drive id=, "drive0"... when not given)
 * @param file      the image file; null for a CD-ROM drive without a medium
 * @param readOnly  whether the guest may not write it
 * @param format    the image format ("raw", "qcow2"; "" without a medium)
 * @param size      the image's size in bytes, as the guest sees it (0 without a medium)
 * @param cache     -drive cache=: "writeback" (through the host's page cache) or "none" (O_DIRECT)
 * @param removable the medium can change (a CD-ROM)
 * @param trayOpen  a removable drive's tray is open
 * @param locked    the guest locked a removable drive's tray
 */
public record BlockDeviceInfo(String id, Path file, boolean readOnly, String format, long size, String cache,
                              boolean removable, boolean trayOpen, boolean locked) {
    /** A fixed disk. */
    public BlockDeviceInfo(String id, Path file, boolean readOnly, String format, long size, String cache) {
        this(id, file, readOnly, format, size, cache, false, false, false);
    }

    /** Whether a medium is in the drive (in or out of its tray): QMP's "inserted" is there. */
    public boolean inserted() {
        return file != null;
    }
}
