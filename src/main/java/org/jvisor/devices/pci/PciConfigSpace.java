package org.jvisor.devices.pci;

import org.jvisor.devices.state.Bytes;

/**
 * The 4 KiB configuration space of one PCI function as bytes, with two masks that say what a guest
 * write may do to each bit: <em>writable</em> bits take the written value, <em>write-1-to-clear</em>
 * bits are cleared where the guest writes a 1, every other bit is read-only (PCI Local Bus spec 3.0,
 * 6.1; PCIe base spec 7.5.1). The device side ({@link #set8} etc.) ignores the masks.
 *
 * <p>Not thread-safe by itself: {@link PciDevice} serialises access.
 */
public final class PciConfigSpace {

    /** Bytes of a PCI Express function's configuration space (conventional PCI uses the first 256). */
    public static final int SIZE = 4096;

    private final byte[] data = new byte[SIZE];
    private final byte[] writable = new byte[SIZE];
    private final byte[] w1c = new byte[SIZE];
    /** Read-only bits the device model changes as it runs (an interrupt status, pending bits). */
    private final byte[] deviceManaged = new byte[SIZE];

    /** The guest's view: {@code size} (1, 2 or 4) bytes at {@code offset}, little-endian; all-ones past the end. */
    public int read(int offset, int size) {
        int v = 0;
        for (int i = 0; i < size; i++) {
            int o = offset + i;
            int b = o >= 0 && o < SIZE ? data[o] & 0xFF : 0xFF;
            v |= b << (8 * i);
        }
        return v;
    }

    /** A guest write, through the masks. Bytes past the end are dropped. */
    public void write(int offset, int size, int value) {
        for (int i = 0; i < size; i++) {
            int o = offset + i;
            if (o < 0 || o >= SIZE) {
                continue;
            }
            int b = (value >>> (8 * i)) & 0xFF;
            int wm = writable[o];
            int cm = w1c[o];
            int old = data[o];
            int next = (old & ~wm) | (b & wm);
            next &= ~(b & cm);
            data[o] = (byte) next;
        }
    }

    public int get8(int offset) {
        return data[offset] & 0xFF;
    }

    public int get16(int offset) {
        return read(offset, 2);
    }

    public int get32(int offset) {
        return read(offset, 4);
    }

    public void set8(int offset, int value) {
        data[offset] = (byte) value;
    }

    public void set16(int offset, int value) {
        set(data, offset, 2, value);
    }

    public void set32(int offset, int value) {
        set(data, offset, 4, value);
    }

    /** Makes the bits of {@code mask} ({@code size} bytes at {@code offset}) writable by the guest, the others read-only. */
    public void setWritable(int offset, int size, int mask) {
        set(writable, offset, size, mask);
    }

    /** Makes the bits of {@code mask} write-1-to-clear (and no longer plainly writable). */
    public void setWriteOneToClear(int offset, int size, int mask) {
        set(w1c, offset, size, mask);
        for (int i = 0; i < size; i++) {
            writable[offset + i] &= (byte) ~(mask >>> (8 * i));
        }
    }

    /**
     * Marks read-only bits of {@code mask} as the device model's to change at run time: a restore
     * takes their value from the saved state instead of requiring it to match.
     */
    public void setDeviceManaged(int offset, int size, int mask) {
        set(deviceManaged, offset, size, mask);
    }

    /** All 4 KiB as they read now. */
    public Bytes snapshot() {
        return Bytes.copyOf(data);
    }

    /**
     * The first offset where {@code saved} differs from this space in a bit that identifies the
     * function (read-only, not device-managed: IDs, class, BAR types, the capability list), or -1.
     */
    public int firstIdentityMismatch(Bytes saved) {
        for (int i = 0; i < SIZE; i++) {
            int fixed = ~(writable[i] | w1c[i] | deviceManaged[i]) & 0xFF;
            if (((saved.get(i) ^ data[i]) & fixed) != 0) {
                return i;
            }
        }
        return -1;
    }

    /** Takes every byte of {@code saved} (check {@link #firstIdentityMismatch} first). */
    public void load(Bytes saved) {
        saved.copyTo(data, 0);
    }

    public int writableMask(int offset, int size) {
        return get(writable, offset, size);
    }

    public int writeOneToClearMask(int offset, int size) {
        return get(w1c, offset, size);
    }

    /**
     * The reset value of the guest-controlled state: every writable and write-1-to-clear bit
     * becomes 0, read-only bits keep their value.
     */
    public void clearGuestBits() {
        for (int i = 0; i < SIZE; i++) {
            data[i] &= (byte) ~(writable[i] | w1c[i]);
        }
    }

    private static void set(byte[] a, int offset, int size, int value) {
        for (int i = 0; i < size; i++) {
            a[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    private static int get(byte[] a, int offset, int size) {
        int v = 0;
        for (int i = 0; i < size; i++) {
            v |= (a[offset + i] & 0xFF) << (8 * i);
        }
        return v;
    }
}
