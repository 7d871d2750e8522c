package org.jvisor.devices.ide;

import org.jvisor.devices.state.Bytes;

/**
 * A CD-ROM's packet state: its sense data (SPC-4, 4.5.3), the data-in transfer of the command in
 * progress (its source, the next byte, bytes left, the byte count limit of each DRQ block, the
 * reply of a non-READ command), whether the host asked for DMA, and the tray: open or closed,
 * locked, the medium size the guest was last told of, and the media change and events still to
 * report. Which image is in the tray is the user's (the drive's medium at restore time).
 *
 * @param senseKey     the sense key of the last CHECK CONDITION (0: none)
 * @param asc          its additional sense code
 * @param ascq         its additional sense code qualifier
 * @param source       where the remaining data comes from
 * @param offset       the next byte: in {@code reply}, or in the image
 * @param bytesLeft    bytes of the command not yet in the PIO buffer or moved by DMA
 * @param byteLimit    the byte count limit the host gave with PACKET
 * @param reply        the reply of the command in progress
 * @param dma          PACKET asked for DMA (features bit 0)
 * @param trayOpen     the tray is open
 * @param locked       PREVENT ALLOW MEDIUM REMOVAL locked the tray
 * @param mediumBlocks the medium's size in 2048-byte blocks as of the last tray movement
 * @param change       the medium change still to report to the next command
 * @param newMedia     a "new media" event waits for GET EVENT STATUS NOTIFICATION
 * @param ejectRequest an "eject request" event waits for GET EVENT STATUS NOTIFICATION
 */
public record AtapiState(int senseKey, int asc, int ascq, AtapiSource source, long offset, long bytesLeft, int byteLimit,
                         Bytes reply, boolean dma, boolean trayOpen, boolean locked, long mediumBlocks,
                         MediaChange change, boolean newMedia, boolean ejectRequest) {
}
