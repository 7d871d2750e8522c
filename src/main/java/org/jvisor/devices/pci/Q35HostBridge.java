package org.jvisor.devices.pci;

/**
 * The host bridge function (00.0) of QEMU's q35 machine as a guest enumerates it: Intel's
 * 82G33/Q35 MCH, vendor 0x8086 device 0x29C0 revision 2, class host bridge, subsystem 1AF4:1100
 * (QEMU's). Only the identity: jvisor's q35 keeps its own ECAM window and BAR windows (MCHBAR,
 * PCIEXBAR, PAM and SMRAM are not emulated; a directly booted Linux reads none of them).
 */
public final class Q35HostBridge extends PciDevice {
    public static final int DEVICE_ID = 0x29C0;

    public Q35HostBridge() {
        super(0x8086, DEVICE_ID, PciHostBridge.HOST_BRIDGE_CLASS, 0x02);
        setSubsystem(0x1AF4, 0x1100);
    }
}
