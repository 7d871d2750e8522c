package org.jvisor.devices.ide;

/** Where a drive's PIO data register stands: no transfer, data to the host, data from the host, an ATAPI packet. */
public enum PioPhase {
    NONE, IN, OUT, PACKET
}
