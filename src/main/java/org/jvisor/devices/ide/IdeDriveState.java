package org.jvisor.devices.ide;

import java.util.Optional;

import org.jvisor.devices.state.Bytes;

/**
 * One drive's architectural state: registers, the PIO buffer of a transfer in progress, the
 * command's position (next LBA, sectors left, block size) or the DMA it waits for, and the modes
 * the driver set. The image is the user's: a restore checks only that its size is the same.
 *
 * @param media        disk or CD-ROM
 * @param sectors      the medium's size in 512-byte sectors
 * @param taskfile     the command block registers
 * @param status       the status register
 * @param error        the error register
 * @param phase        the PIO phase; {@code data} holds the buffer of the transfer in progress
 * @param data         the PIO buffer up to the end of the current block (empty without a transfer)
 * @param position     the next byte of {@code data} the host reads or writes
 * @param lba          the next sector of the command
 * @param remaining    sectors of the command not yet in the buffer (PIO in) or written (PIO out)
 * @param blockSectors sectors per DRQ block (1, or the READ/WRITE MULTIPLE size)
 * @param ext          the command is a 48-bit one
 * @param dma          the DMA transfer the drive waits for
 * @param multiple     SET MULTIPLE MODE's block size (0: none)
 * @param transferMode SET FEATURES' transfer mode
 * @param writeCache   the volatile write cache is on (off: every write is flushed)
 * @param fua          the write in progress is a Forced Unit Access one (flushed before it completes)
 * @param atapi        a CD-ROM's packet state
 * @param smart        a disk's SMART settings and self-test log
 */
public record IdeDriveState(IdeMedia media, long sectors, TaskfileState taskfile, int status, int error,
                            PioPhase phase, Bytes data, int position, long lba, long remaining, int blockSectors,
                            boolean ext, DmaRequest dma, int multiple, int transferMode, boolean writeCache, boolean fua,
                            Optional<AtapiState> atapi, Optional<SmartState> smart) {
}
