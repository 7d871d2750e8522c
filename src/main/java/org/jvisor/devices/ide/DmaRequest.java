package org.jvisor.devices.ide;

/**
 * A DMA transfer a drive is ready for, waiting for the bus master's START: none, to memory, from
 * memory, or from memory the LBA range entries of DATA SET MANAGEMENT's TRIM (ACS-3 7.5).
 */
public enum DmaRequest {
    NONE, TO_MEMORY, FROM_MEMORY, TRIM_RANGES
}
