package org.jvisor.devices.pci;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.BusDevice;

/**
 * MSI-X (PCI Local Bus spec 3.0, 6.8.2; PCIe base spec 7.7.2): a 12-byte capability whose Message
 * Control holds the table size (read-only), Function Mask (bit 14) and MSI-X Enable (bit 15), and
 * two read-only pointers (BAR indicator and offset) to the vector table and the Pending Bit Array,
 * which live in the function's BAR memory. The device model maps {@link #tableDevice()} and
 * {@link #pbaDevice()} into its BAR (or forwards to {@link #readTable}/{@link #writeTable}/
 * {@link #readPba} from a BAR that holds more).
 *
 * <p>Each table entry is 16 bytes: message address (bits 1:0 read 0), upper address, data, vector
 * control (bit 0 = masked, set at reset). {@link #notify(int)} sends vector n's message through the
 * owner's {@link MsiSink}; while the vector or the function is masked it sets the vector's pending
 * bit instead, and the message is sent when the mask is lifted. No allocation on these paths.
 */
public final class MsixCapability extends PciCapability {

    public static final int LENGTH = 12;
    public static final int CONTROL_FUNCTION_MASK = 1 << 14;
    public static final int CONTROL_ENABLE = 1 << 15;
    public static final int ENTRY_SIZE = 16;
    public static final int VECTOR_CONTROL_MASKED = 1;
    /** The largest table: 2048 entries (an 11-bit size field). */
    public static final int MAX_VECTORS = 2048;

    private final int vectors;
    private final int tableBar;
    private final long tableOffset;
    private final int pbaBar;
    private final long pbaOffset;
    /** Four dwords per entry: address low, address high, data, vector control. */
    private final int[] table;
    private final long[] pba;
    private boolean enabled;
    private boolean functionMask;
    private volatile boolean enabledFlag;
    /** Told after the guest changes what a vector sends or whether it may send (see {@link #onChange}). */
    private volatile Runnable changeListener = () -> { };

    private final BusDevice tableDevice = new BusDevice() {
        @Override
        public long read(long offset, int size) {
            return readTable(offset, size);
        }

        @Override
        public void write(long offset, int size, long value) {
            writeTable(offset, size, value);
        }
    };

    private final BusDevice pbaDevice = new BusDevice() {
        @Override
        public long read(long offset, int size) {
            return readPba(offset, size);
        }

        @Override
        public void write(long offset, int size, long value) {
            // read-only
        }
    };

    private final BusDevice barDevice = new BusDevice() {
        @Override
        public long read(long offset, int size) {
            if (offset >= tableOffset && offset < tableOffset + tableSize(vectors)) {
                return readTable(offset - tableOffset, size);
            }
            if (offset >= pbaOffset && offset < pbaOffset + pbaSize(vectors)) {
                return readPba(offset - pbaOffset, size);
            }
            return 0;
        }

        @Override
        public void write(long offset, int size, long value) {
            if (offset >= tableOffset && offset < tableOffset + tableSize(vectors)) {
                writeTable(offset - tableOffset, size, value);
            }
        }
    };

    /**
     * @param vectors     table entries, 1-2048
     * @param tableBar    BAR index holding the table
     * @param tableOffset table offset in that BAR (8-byte aligned)
     * @param pbaBar      BAR index holding the PBA
     * @param pbaOffset   PBA offset in that BAR (8-byte aligned)
     */
    public MsixCapability(int vectors, int tableBar, long tableOffset, int pbaBar, long pbaOffset) {
        super(ID_MSIX, LENGTH);
        if (vectors < 1 || vectors > MAX_VECTORS) {
            throw new IllegalArgumentException("MSI-X vectors " + vectors);
        }
        if (tableBar < 0 || tableBar > 5 || pbaBar < 0 || pbaBar > 5 || (tableOffset & 7) != 0
            || (pbaOffset & 7) != 0 || tableOffset < 0 || pbaOffset < 0
            || tableOffset > 0xFFFF_FFF8L || pbaOffset > 0xFFFF_FFF8L) {
            throw new IllegalArgumentException("bad MSI-X table/PBA placement");
        }
        if (tableBar == pbaBar && tableOffset < pbaOffset + pbaSize(vectors)
            && pbaOffset < tableOffset + tableSize(vectors)) {
            throw new IllegalArgumentException("MSI-X table and PBA overlap");
        }
        this.vectors = vectors;
        this.tableBar = tableBar;
        this.tableOffset = tableOffset;
        this.pbaBar = pbaBar;
        this.pbaOffset = pbaOffset;
        this.table = new int[vectors * 4];
        this.pba = new long[(vectors + 63) / 64];
        resetState();
    }

    /** Table at {@code tableOffset} of BAR {@code bar}, PBA right after it in the same BAR. */
    public MsixCapability(int vectors, int bar, long tableOffset) {
        this(vectors, bar, tableOffset, bar, tableOffset + tableSize(vectors));
    }

    /** Bytes of a table of {@code vectors} entries. */
    public static long tableSize(int vectors) {
        return (long) vectors * ENTRY_SIZE;
    }

    /** Bytes of the PBA for {@code vectors} entries (whole qwords). */
    public static long pbaSize(int vectors) {
        return ((vectors + 63L) / 64) * 8;
    }

    public int vectors() {
        return vectors;
    }

    public int tableBar() {
        return tableBar;
    }

    public long tableOffset() {
        return tableOffset;
    }

    public int pbaBar() {
        return pbaBar;
    }

    public long pbaOffset() {
        return pbaOffset;
    }

    /**
     * A device for a BAR that holds only the table and the PBA (both in BAR {@link #tableBar()}):
     * table and PBA at their offsets, zeros elsewhere, writes outside the table dropped.
     */
    public BusDevice barDevice() {
        if (tableBar != pbaBar) {
            throw new IllegalStateException("MSI-X table and PBA are in different BARs");
        }
        return barDevice;
    }

    /**
     * The smallest BAR that holds the table and the PBA at their offsets (when in one BAR), at
     * least 4 KiB so that no other registers share their page (PCIe base spec 6.1.4.2).
     */
    public long minimumBarSize() {
        long end = Math.max(tableOffset + tableSize(vectors), tableBar == pbaBar ? pbaOffset + pbaSize(vectors) : 0);
        return Math.max(0x1000, Long.highestOneBit(end - 1) << 1);
    }

    public BusDevice tableDevice() {
        return tableDevice;
    }

    public BusDevice pbaDevice() {
        return pbaDevice;
    }

    @Override
    protected void initialize() {
        int o = offset();
        config().set16(o + 2, vectors - 1);
        config().setWritable(o + 2, 2, CONTROL_FUNCTION_MASK | CONTROL_ENABLE);
        config().set32(o + 4, (int) tableOffset | tableBar);
        config().set32(o + 8, (int) pbaOffset | pbaBar);
    }

    @Override
    protected void written(int capOffset, int size) {
        if (capOffset > 3 || capOffset + size <= 2) {
            return;
        }
        int control = config().get16(offset() + 2);
        synchronized (this) {
            enabled = (control & CONTROL_ENABLE) != 0;
            functionMask = (control & CONTROL_FUNCTION_MASK) != 0;
            enabledFlag = enabled;
        }
        deliverPending();
        changeListener.run();
    }

    @Override
    protected void reset() {
        synchronized (this) {
            resetState();
        }
        changeListener.run();
    }

    /**
     * Runs {@code listener} (on the writing thread, without this capability's lock) after every
     * change of a vector's message or mask, of MSI-X Enable or Function Mask, and after a reset
     * or restore: for those who send a vector's message without {@link #notify} (an irqfd bound
     * to it, as QEMU's msix_set_vector_notifiers serve). Pending messages that an unmask
     * releases are sent before it runs.
     */
    public void onChange(Runnable listener) {
        this.changeListener = listener;
    }

    private void resetState() {
        java.util.Arrays.fill(table, 0);
        for (int v = 0; v < vectors; v++) {
            table[v * 4 + 3] = VECTOR_CONTROL_MASKED;
        }
        java.util.Arrays.fill(pba, 0);
        enabled = false;
        functionMask = false;
        enabledFlag = false;
    }

    @Override
    protected boolean suppressesIntx() {
        return enabledFlag;
    }

    // ---- state ----------------------------------------------------------------------------------

    /** The table and PBA as the guest reads them. */
    synchronized MsixState saveTable() {
        return new MsixState(Bytes.ofInts(table), Bytes.ofLongs(pba));
    }

    /** Refuses a table or PBA of another size, or with bits set that read 0 (address bits 1:0, reserved vector control). */
    void checkTable(String function, MsixState s) throws DeviceStateException {
        String where = function + " MSI-X";
        DeviceStateException.checkLength(where, "table bytes", s.table().length(), table.length * 4);
        DeviceStateException.checkLength(where, "PBA bytes", s.pendingBits().length(), pba.length * 8);
        for (int v = 0; v < vectors; v++) {
            int e = v * ENTRY_SIZE;
            DeviceStateException.checkBits(where, "vector " + v + " address bits 1:0", s.table().get(e) & 3, 0);
            int control = s.table().get(e + 12) | s.table().get(e + 13) << 8 | s.table().get(e + 14) << 16
                | s.table().get(e + 15) << 24;
            DeviceStateException.checkBits(where, "vector " + v + " control", control & 0xFFFF_FFFFL, VECTOR_CONTROL_MASKED);
        }
        for (int b = vectors; b < pba.length * 64; b++) {
            if ((s.pendingBits().get(b >>> 3) & (1 << (b & 7))) != 0) {
                throw new DeviceStateException(where + ": pending bit " + b + " is beyond the " + vectors + " vectors");
            }
        }
    }

    /** Puts back what {@link #saveTable} gave (checked with {@link #checkTable}); no message is sent. */
    synchronized void restoreTable(MsixState s) {
        s.table().intsInto(table);
        s.pendingBits().longsInto(pba);
    }

    /** Enable and Function Mask from the restored Message Control. */
    @Override
    protected void restored() {
        int control = config().get16(offset() + 2);
        synchronized (this) {
            enabled = (control & CONTROL_ENABLE) != 0;
            functionMask = (control & CONTROL_FUNCTION_MASK) != 0;
            enabledFlag = enabled;
        }
        changeListener.run();
    }

    // ---- delivery -------------------------------------------------------------------------------

    /**
     * Raises vector {@code vector}: sends its message, or sets its pending bit while it or the
     * function is masked. Returns false when MSI-X is disabled (the device should use INTx then);
     * a vector outside the table is dropped (true). Messages need bus mastering (COMMAND bit 2):
     * without it the message is dropped, as the function may not write to memory.
     */
    public boolean notify(int vector) {
        long address;
        int data;
        synchronized (this) {
            if (!enabled) {
                return false;
            }
            if (vector < 0 || vector >= vectors) {
                return true;
            }
            int e = vector * 4;
            if (functionMask || (table[e + 3] & VECTOR_CONTROL_MASKED) != 0) {
                pba[vector >>> 6] |= 1L << vector;
                return true;
            }
            if (!owner().busMasterEnabled()) {
                return true;
            }
            address = (table[e] & 0xFFFF_FFFFL) | ((long) table[e + 1] << 32);
            data = table[e + 2];
        }
        owner().msiSink().signal(address, data);
        return true;
    }

    /** Sends the messages of pending vectors that are no longer masked, clearing their bits. */
    private void deliverPending() {
        int from = 0;
        while (true) {
            long address;
            int data;
            synchronized (this) {
                if (!enabled || functionMask || !owner().busMasterEnabled()) {
                    return;
                }
                int v = from;
                for (; v < vectors; v++) {
                    if ((pba[v >>> 6] & (1L << v)) != 0 && (table[v * 4 + 3] & VECTOR_CONTROL_MASKED) == 0) {
                        break;
                    }
                }
                if (v >= vectors) {
                    return;
                }
                pba[v >>> 6] &= ~(1L << v);
                address = (table[v * 4] & 0xFFFF_FFFFL) | ((long) table[v * 4 + 1] << 32);
                data = table[v * 4 + 2];
                from = v + 1;
            }
            owner().msiSink().signal(address, data);
        }
    }

    /** MSI-X Enable as the guest last wrote it (a volatile read: cheap enough for every interrupt). */
    public boolean isEnabled() {
        return enabledFlag;
    }

    public synchronized boolean isFunctionMasked() {
        return functionMask;
    }

    public synchronized boolean isMasked(int vector) {
        return (table[vector * 4 + 3] & VECTOR_CONTROL_MASKED) != 0;
    }

    public synchronized boolean isPending(int vector) {
        return (pba[vector >>> 6] & (1L << vector)) != 0;
    }

    public synchronized long messageAddress(int vector) {
        return (table[vector * 4] & 0xFFFF_FFFFL) | ((long) table[vector * 4 + 1] << 32);
    }

    public synchronized int messageData(int vector) {
        return table[vector * 4 + 2];
    }

    // ---- table and PBA (BAR memory) -------------------------------------------------------------

    /** A read of the vector table at {@code offset} from its start: DWORD or QWORD as the spec asks, others tolerated. */
    public long readTable(long offset, int size) {
        if (size == 8) {
            return (readTable(offset, 4) & 0xFFFF_FFFFL) | (readTable(offset + 4, 4) << 32);
        }
        long d;
        synchronized (this) {
            long i = offset >>> 2;
            d = offset >= 0 && i < table.length ? table[(int) i] & 0xFFFF_FFFFL : 0;
        }
        int shift = (int) (offset & 3) * 8;
        return (d >>> shift) & (size >= 4 ? 0xFFFF_FFFFL : (1L << (size * 8)) - 1);
    }

    public void writeTable(long offset, int size, long value) {
        if (size == 8) {
            writeTable(offset, 4, value & 0xFFFF_FFFFL);
            writeTable(offset + 4, 4, value >>> 32);
            return;
        }
        boolean unmasked;
        synchronized (this) {
            long i = offset >>> 2;
            if (offset < 0 || i >= table.length) {
                return;
            }
            int idx = (int) i;
            int shift = (int) (offset & 3) * 8;
            long laneMask = (size >= 4 ? 0xFFFF_FFFFL : (1L << (size * 8)) - 1) << shift;
            int old = table[idx];
            int next = (int) ((old & ~laneMask) | ((value << shift) & laneMask));
            switch (idx & 3) {
                case 0 -> next &= ~0x3;                     // address bits 1:0 read 0
                case 3 -> next &= VECTOR_CONTROL_MASKED;    // other vector control bits reserved
                default -> { }
            }
            table[idx] = next;
            unmasked = (idx & 3) == 3 && (old & VECTOR_CONTROL_MASKED) != 0 && (next & VECTOR_CONTROL_MASKED) == 0;
        }
        if (unmasked) {
            deliverPending();
        }
        changeListener.run();
    }

    /** A read of the Pending Bit Array at {@code offset} from its start (read-only, QWORD or DWORD). */
    public long readPba(long offset, int size) {
        long q;
        synchronized (this) {
            long i = offset >>> 3;
            q = offset >= 0 && i < pba.length ? pba[(int) i] : 0;
        }
        int shift = (int) (offset & 7) * 8;
        q >>>= shift;
        return size >= 8 ? q : q & ((1L << (size * 8)) - 1);
    }
}
