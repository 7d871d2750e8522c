package org.jvisor.boot.acpi;

import java.util.Arrays;

/**
 * Writes one ACPI table: the 36-byte System Description Table header (ACPI 6.5, 5.2.6), then
 * little-endian fields; {@link #finish()} fills in the length and the checksum (all bytes of the
 * table sum to zero).
 */
public final class SdtWriter {

    /** Header OEM ID, 6 characters. */
    public static final String OEM_ID = "JVISOR";
    /** Prefix of the OEM table ID; the signature follows ("JVSRDSDT"). */
    public static final String OEM_TABLE_PREFIX = "JVSR";
    public static final int OEM_REVISION = 1;
    public static final String CREATOR_ID = "JVSR";
    public static final int CREATOR_REVISION = 1;
    public static final int HEADER_SIZE = 36;

    /** Generic Address Structure address space IDs (5.2.3.2). */
    public static final int GAS_SYSTEM_MEMORY = 0;
    public static final int GAS_SYSTEM_IO = 1;
    /** GAS access sizes. */
    public static final int GAS_ACCESS_UNDEFINED = 0;
    public static final int GAS_ACCESS_BYTE = 1;
    public static final int GAS_ACCESS_WORD = 2;
    public static final int GAS_ACCESS_DWORD = 3;
    public static final int GAS_ACCESS_QWORD = 4;

    private byte[] buf;
    private int size;

    /** Starts a table with the standard header. */
    public SdtWriter(String signature, int revision) {
        this(signature, revision, 128);
    }

    public SdtWriter(String signature, int revision, int capacity) {
        buf = new byte[Math.max(HEADER_SIZE, capacity)];
        ascii(signature, 4);
        u32(0);          // length, filled by finish()
        u8(revision);
        u8(0);           // checksum, filled by finish()
        ascii(OEM_ID, 6);
        ascii(OEM_TABLE_PREFIX + signature, 8);
        u32(OEM_REVISION);
        ascii(CREATOR_ID, 4);
        u32(CREATOR_REVISION);
    }

    private void ensure(int n) {
        if (size + n > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + n));
        }
    }

    public int size() {
        return size;
    }

    public SdtWriter u8(int v) {
        ensure(1);
        buf[size++] = (byte) v;
        return this;
    }

    public SdtWriter u16(int v) {
        return u8(v).u8(v >>> 8);
    }

    public SdtWriter u32(long v) {
        ensure(4);
        for (int i = 0; i < 4; i++) {
            buf[size++] = (byte) (v >>> (8 * i));
        }
        return this;
    }

    public SdtWriter u64(long v) {
        ensure(8);
        for (int i = 0; i < 8; i++) {
            buf[size++] = (byte) (v >>> (8 * i));
        }
        return this;
    }

    public SdtWriter bytes(byte[] b) {
        ensure(b.length);
        System.arraycopy(b, 0, buf, size, b.length);
        size += b.length;
        return this;
    }

    /** {@code n} zero bytes. */
    public SdtWriter zeros(int n) {
        ensure(n);
        size += n; // the array is zero beyond size
        return this;
    }

    /** ASCII text padded with spaces (or cut) to {@code width} bytes. */
    public SdtWriter ascii(String s, int width) {
        for (int i = 0; i < width; i++) {
            u8(i < s.length() ? s.charAt(i) : ' ');
        }
        return this;
    }

    /** A Generic Address Structure (12 bytes). */
    public SdtWriter gas(int spaceId, int bitWidth, int bitOffset, int accessSize, long address) {
        return u8(spaceId).u8(bitWidth).u8(bitOffset).u8(accessSize).u64(address);
    }

    /** Writes the length and checksum into the header and returns the table. */
    public byte[] finish() {
        byte[] t = Arrays.copyOf(buf, size);
        putU32(t, 4, size);
        t[9] = 0;
        t[9] = checksum(t, 0, t.length);
        return t;
    }

    /** The byte that makes {@code b[from, from+len)} sum to zero (mod 256) if stored in it (when that byte is 0). */
    public static byte checksum(byte[] b, int from, int len) {
        int sum = 0;
        for (int i = from; i < from + len; i++) {
            sum += b[i];
        }
        return (byte) -sum;
    }

    /** Sum of bytes mod 256 (0 for a valid table). */
    public static int sum(byte[] b, int from, int len) {
        int sum = 0;
        for (int i = from; i < from + len; i++) {
            sum += b[i];
        }
        return sum & 0xFF;
    }

    static void putU32(byte[] b, int at, long v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    static void putU64(byte[] b, int at, long v) {
        for (int i = 0; i < 8; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }
}
