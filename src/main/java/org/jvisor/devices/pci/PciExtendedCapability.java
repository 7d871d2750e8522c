package org.jvisor.devices.pci;

/**
 * An entry of a PCI Express function's extended capability list (PCIe base spec 7.6): a 32-bit
 * header (16-bit ID, 4-bit version, next offset in bits 31:20) and then {@code length - 4} bytes
 * of registers, placed from 0x100 by {@link PciDevice#addExtendedCapability}. The hooks are
 * {@link PciCapability}'s and run the same way, with the owner's lock held.
 */
public abstract class PciExtendedCapability extends PciCapability {
    private final int version;

    protected PciExtendedCapability(int id, int version, int length) {
        super(id, length, true);
        if (version < 0 || version > 0xF) {
            throw new IllegalArgumentException("bad extended capability version " + version);
        }
        this.version = version;
    }

    /** The capability's version (header bits 19:16). */
    public final int version() {
        return version;
    }
}
