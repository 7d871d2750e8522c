package org.jvisor.devices.pci;

/**
 * MSI with a 64-bit message address (PCI Local Bus spec 3.0, 6.8.1), optionally with per-vector
 * masking. Layout from the capability start: 2 Message Control (bit 0 enable; 3:1 multiple message
 * capable, read-only; 6:4 multiple message enable; bit 7 64-bit capable; bit 8 per-vector masking
 * capable), 4 address low (bits 1:0 read 0), 8 address high, 12 data (16 bits); with masking also
 * 16 mask bits and 20 pending bits (read-only).
 *
 * <p>With {@code 2^k} messages enabled, vector {@code n} is sent with the low {@code k} data bits
 * replaced by {@code n}. A masked vector sets its pending bit and is sent when unmasked.
 * State lives in the owner's configuration space, under the owner's lock.
 */
public final class MsiCapability extends PciCapability {

    public static final int CONTROL_ENABLE = 1;
    public static final int CONTROL_64BIT = 1 << 7;
    public static final int CONTROL_PER_VECTOR_MASK = 1 << 8;
    private static final int ADDRESS_LO = 4;
    private static final int ADDRESS_HI = 8;
    private static final int DATA = 12;
    private static final int MASK = 16;
    private static final int PENDING = 20;

    private final int vectors;
    private final int log2Vectors;
    private final boolean perVectorMasking;
    private volatile boolean enabledForIntx;

    /** {@code vectors}: messages requested, a power of two 1-32. */
    public MsiCapability(int vectors, boolean perVectorMasking) {
        super(ID_MSI, perVectorMasking ? 24 : 14);
        if (vectors < 1 || vectors > 32 || Integer.bitCount(vectors) != 1) {
            throw new IllegalArgumentException("MSI vectors " + vectors);
        }
        this.vectors = vectors;
        this.log2Vectors = Integer.numberOfTrailingZeros(vectors);
        this.perVectorMasking = perVectorMasking;
    }

    public int vectors() {
        return vectors;
    }

    @Override
    protected void initialize() {
        int o = offset();
        config().set16(o + 2, (log2Vectors << 1) | CONTROL_64BIT | (perVectorMasking ? CONTROL_PER_VECTOR_MASK : 0));
        config().setWritable(o + 2, 2, CONTROL_ENABLE | 0x70);
        config().setWritable(o + ADDRESS_LO, 4, ~0x3);
        config().setWritable(o + ADDRESS_HI, 4, -1);
        config().setWritable(o + DATA, 2, 0xFFFF);
        if (perVectorMasking) {
            config().setWritable(o + MASK, 4, vectors == 32 ? -1 : (1 << vectors) - 1);
            config().setDeviceManaged(o + PENDING, 4, vectors == 32 ? -1 : (1 << vectors) - 1);
        }
    }

    @Override
    protected void restored() {
        enabledForIntx = (config().get16(offset() + 2) & CONTROL_ENABLE) != 0;
    }

    @Override
    protected void written(int capOffset, int size) {
        enabledForIntx = (config().get16(offset() + 2) & CONTROL_ENABLE) != 0;
        deliverPending();
    }

    @Override
    protected void reset() {
        enabledForIntx = false;
        if (perVectorMasking) {
            config().set32(offset() + PENDING, 0);
        }
    }

    @Override
    protected boolean suppressesIntx() {
        return enabledForIntx;
    }

    /** Messages the guest enabled (1 << MME, at most the capable count). */
    private int enabledVectors(int control) {
        int mme = Math.min((control >>> 4) & 7, log2Vectors);
        return 1 << mme;
    }

    /**
     * Raises vector {@code vector}. Returns false when MSI is disabled (use INTx); a vector beyond
     * those enabled is dropped. Needs bus mastering, as {@link MsixCapability#notify}.
     */
    public boolean notify(int vector) {
        PciDevice owner = owner();
        long address;
        int data;
        synchronized (owner) {
            PciConfigSpace c = config();
            int o = offset();
            int control = c.get16(o + 2);
            if ((control & CONTROL_ENABLE) == 0) {
                return false;
            }
            int n = enabledVectors(control);
            if (vector < 0 || vector >= n) {
                return true;
            }
            if (perVectorMasking && (c.get32(o + MASK) & (1 << vector)) != 0) {
                c.set32(o + PENDING, c.get32(o + PENDING) | (1 << vector));
                return true;
            }
            if (!owner.busMasterEnabled()) {
                return true;
            }
            address = message(c, o);
            data = (c.get16(o + DATA) & ~(n - 1)) | vector;
        }
        owner.msiSink().signal(address, data);
        return true;
    }

    private static long message(PciConfigSpace c, int o) {
        return (c.get32(o + ADDRESS_LO) & 0xFFFF_FFFFL) | ((long) c.get32(o + ADDRESS_HI) << 32);
    }

    /** Called with the owner's lock held (after a configuration write). */
    private void deliverPending() {
        if (!perVectorMasking) {
            return;
        }
        PciConfigSpace c = config();
        int o = offset();
        int control = c.get16(o + 2);
        if ((control & CONTROL_ENABLE) == 0 || !owner().busMasterEnabled()) {
            return;
        }
        int n = enabledVectors(control);
        int ready = c.get32(o + PENDING) & ~c.get32(o + MASK);
        for (int v = 0; v < n; v++) {
            if ((ready & (1 << v)) != 0) {
                c.set32(o + PENDING, c.get32(o + PENDING) & ~(1 << v));
                owner().msiSink().signal(message(c, o), (c.get16(o + DATA) & ~(n - 1)) | v);
            }
        }
    }

    public boolean isEnabled() {
        return enabledForIntx;
    }
}
