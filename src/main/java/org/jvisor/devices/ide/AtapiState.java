package org.jvisor.devices.ide;

import org.jvisor.devices.state.Bytes;

/**
 * A CD-ROM's packet state: its sense data (SPC-4, 4.5.3), the data-in transfer of the command in
 * progress (its source, the next byte, bytes left, the byte count limit of each DRQ block, the
 * reply of a non-READ command) and whether the host asked for DMA.
 *
 * @param senseKey  the sense key of the last CHECK CONDITION (0: none)
 * @param asc       its additional sense code
 * @param source    where the remaining data comes from
 * @param offset    the next byte: in {@code reply}, or in the image
 * @param bytesLeft bytes of the command not yet in the PIO buffer or moved by DMA
 * @param byteLimit the byte count limit the host gave with PACKET
 * @param reply     the reply of the command in progress
 * @param dma       PACKET asked for DMA (features bit 0)
 */
public record AtapiState(int senseKey, int asc, AtapiSource source, long offset, long bytesLeft, int byteLimit,
                         Bytes reply, boolean dma) {
}
