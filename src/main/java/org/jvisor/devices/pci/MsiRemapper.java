package org.jvisor.devices.pci;

/**
 * Where a bus sends its functions' MSI/MSI-X messages when an interrupt remapping unit sits in
 * front of the APICs: each message with the requester id (bus 15:8, device 7:3, function 2:0) of
 * the function that sent it, which the unit needs to validate its source and to record faults.
 */
@FunctionalInterface
public interface MsiRemapper {
    void signal(int requesterId, long address, int data);
}
