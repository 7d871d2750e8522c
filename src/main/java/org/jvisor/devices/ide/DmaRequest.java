package org.jvisor.devices.ide;

/** A DMA transfer a drive is ready for, waiting for the bus master's START: none, to memory, from memory. */
public enum DmaRequest {
    NONE, TO_MEMORY, FROM_MEMORY
}
