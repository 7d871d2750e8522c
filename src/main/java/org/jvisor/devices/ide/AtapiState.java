package org.jvisor.devices.ide;

/**
 * A CD-ROM's packet state: its sense data (SPC-4, 4.5), whether a unit attention for the
 * inserted medium is still to be reported, and a READ in progress (its next 2048-byte block,
 * blocks left, the byte count limit of each DRQ).
 */
public record AtapiState(int senseKey, int asc, boolean unitAttention, long lba, long blocksLeft, int byteLimit) {
}
