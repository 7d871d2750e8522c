package org.jvisor.api;

import java.nio.file.Path;

/**
 * A disk the machine's devices use, as QMP's query-block describes it.
 *
 * @param id       the drive's id (-drive id=, "drive0"... when not given)
 * @param file     the image file
 * @param readOnly whether the guest may not write it
 * @param format   the image format ("raw")
 * @param size     the image's size in bytes, as the guest sees it
 * @param cache    -drive cache=: "writeback" (through the host's page cache) or "none" (O_DIRECT)
 */
public record BlockDeviceInfo(String id, Path file, boolean readOnly, String format, long size, String cache) {
}
