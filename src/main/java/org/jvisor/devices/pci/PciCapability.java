package org.jvisor.devices.pci;

/**
 * One entry of a function's capability list (PCI Local Bus spec 3.0, 6.7): an ID byte, a next
 * pointer, then {@code length - 2} bytes of registers. {@link PciDevice#addCapability} places it in
 * configuration space, links it and calls {@link #initialize()}, where the capability writes its
 * read-only fields and declares its writable bits through {@link #config()}; after each guest write
 * that touches it, the device calls {@link #written(int, int)}.
 *
 * <p>Hooks run with the owning device's lock held.
 */
public abstract class PciCapability {

    /** Capability IDs (PCI Code and ID Assignment spec). */
    public static final int ID_PM = 0x01;
    public static final int ID_MSI = 0x05;
    public static final int ID_VENDOR = 0x09;
    public static final int ID_PCIE = 0x10;
    public static final int ID_MSIX = 0x11;
    /** Extended capability IDs (PCIe base spec 7.6; the same assignment list). */
    public static final int EXT_ID_ATS = 0x000F;

    private final int id;
    private final int length;
    private PciDevice owner;
    private int offset;

    protected PciCapability(int id, int length) {
        if (id <= 0 || id > 0xFF || length < 2 || length > 0xC0) {
            throw new IllegalArgumentException("bad capability id " + id + " / length " + length);
        }
        this.id = id;
        this.length = length;
    }

    /** An extended capability ({@link PciExtendedCapability}): a 16-bit ID, in the space above 0x100. */
    PciCapability(int extendedId, int length, boolean extended) {
        if (!extended || extendedId <= 0 || extendedId > 0xFFFF || length < 4 || length > 0xF00) {
            throw new IllegalArgumentException("bad extended capability id " + extendedId + " / length " + length);
        }
        this.id = extendedId;
        this.length = length;
    }

    public final int id() {
        return id;
    }

    /** Bytes the capability occupies, header included. */
    public final int length() {
        return length;
    }

    /** Its offset in configuration space (0 until added). */
    public final int offset() {
        return offset;
    }

    /** The function that holds it (null until added). */
    public final PciDevice owner() {
        return owner;
    }

    final void attach(PciDevice owner, int offset) {
        if (this.owner != null) {
            throw new IllegalStateException("capability already added to " + this.owner);
        }
        this.owner = owner;
        this.offset = offset;
    }

    /** The owner's configuration space; offsets there are absolute ({@code offset() + n}). */
    protected final PciConfigSpace config() {
        return owner.config();
    }

    /** Writes the capability's initial registers and masks. The header (ID, next) is the owner's. */
    protected void initialize() {
    }

    /** After a guest write of {@code size} bytes at {@code capOffset} (relative to the capability). */
    protected void written(int capOffset, int size) {
    }

    /** After the owner's configuration space was reset (guest bits cleared). */
    protected void reset() {
    }

    /**
     * After a state restore put back the owner's configuration space: recompute what the
     * capability derives from its registers there.
     */
    protected void restored() {
    }

    /** True while the capability delivers the function's interrupts as messages (INTx is then off). */
    protected boolean suppressesIntx() {
        return false;
    }
}
