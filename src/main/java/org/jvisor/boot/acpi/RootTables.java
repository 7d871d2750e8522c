package org.jvisor.boot.acpi;

/**
 * The root of the table tree: RSDP (5.2.5), XSDT (5.2.8), RSDT (5.2.7) and the FACS (5.2.10).
 */
public final class RootTables {

    /** Size of an ACPI 2.0+ RSDP. */
    public static final int RSDP_SIZE = 36;
    /** RSDP revision for ACPI 2.0 and later (it has the XSDT address and the extended checksum). */
    public static final int RSDP_REVISION = 2;
    /** FACS size (version 2+) and its required alignment. */
    public static final int FACS_SIZE = 64;
    public static final int FACS_ALIGN = 64;

    private RootTables() {
    }

    /**
     * An ACPI 2.0+ RSDP: "RSD PTR ", checksum over the first 20 bytes, OEM ID, revision 2, the
     * RSDT address, length 36, the XSDT address, the extended checksum over all 36 bytes.
     */
    public static byte[] rsdp(long xsdtAddress, long rsdtAddress) {
        if (rsdtAddress >>> 32 != 0) {
            throw new IllegalArgumentException("the RSDT must lie below 4 GiB");
        }
        byte[] r = new byte[RSDP_SIZE];
        put(r, 0, "RSD PTR ", 8);
        put(r, 9, SdtWriter.OEM_ID, 6);
        r[15] = RSDP_REVISION;
        SdtWriter.putU32(r, 16, rsdtAddress);
        SdtWriter.putU32(r, 20, RSDP_SIZE);
        SdtWriter.putU64(r, 24, xsdtAddress);
        r[8] = SdtWriter.checksum(r, 0, 20);
        r[32] = SdtWriter.checksum(r, 0, RSDP_SIZE);
        return r;
    }

    /** The XSDT: 64-bit addresses of the other tables (FADT first, by convention). */
    public static byte[] xsdt(long... tables) {
        SdtWriter w = new SdtWriter("XSDT", 1, SdtWriter.HEADER_SIZE + 8 * tables.length);
        for (long t : tables) {
            w.u64(t);
        }
        return w.finish();
    }

    /** The RSDT: 32-bit addresses of the same tables, for OSes that ignore the XSDT. */
    public static byte[] rsdt(long... tables) {
        SdtWriter w = new SdtWriter("RSDT", 1, SdtWriter.HEADER_SIZE + 4 * tables.length);
        for (long t : tables) {
            if (t >>> 32 != 0) {
                throw new IllegalArgumentException("RSDT entries are 32-bit: " + Long.toHexString(t));
            }
            w.u32(t);
        }
        return w.finish();
    }

    /**
     * A version-2 FACS: no hardware signature, no waking vector (no S3), the global lock free.
     * It has no checksum and must be 64-byte aligned.
     */
    public static byte[] facs() {
        byte[] f = new byte[FACS_SIZE];
        put(f, 0, "FACS", 4);
        SdtWriter.putU32(f, 4, FACS_SIZE);
        f[32] = 2; // version
        return f;
    }

    private static void put(byte[] b, int at, String s, int width) {
        for (int i = 0; i < width; i++) {
            b[at + i] = (byte) (i < s.length() ? s.charAt(i) : ' ');
        }
    }
}
