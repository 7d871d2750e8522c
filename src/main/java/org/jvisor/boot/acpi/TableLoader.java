package org.jvisor.boot.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/**
 * The ACPI tables as firmware loads them from fw_cfg (QEMU's hw/acpi/bios-linker-loader.c and
 * SeaBIOS's romfile_loader): the tables in one file ({@link #TABLES}), the RSDP in another
 * ({@link #RSDP}) and a script ({@link #LOADER}) of 128-byte commands that tells the firmware to
 * allocate both, add each file's address to the pointers that name the other, and fix the
 * checksums. The tables are laid out with base address 0, so every pointer holds its target's
 * offset in the tables file, which is what ADD_POINTER adds the file's address to.
 */
public final class TableLoader {
    public static final String TABLES = "etc/acpi/tables";
    public static final String RSDP = "etc/acpi/rsdp";
    public static final String LOADER = "etc/table-loader";

    static final int CMD_ALLOCATE = 1;
    static final int CMD_ADD_POINTER = 2;
    static final int CMD_ADD_CHECKSUM = 3;
    static final int ZONE_HIGH = 1;
    static final int ZONE_FSEG = 2;
    static final int ENTRY_SIZE = 128;
    private static final int NAME = 56;

    /** The three fw_cfg files. */
    public record Files(byte[] tables, byte[] rsdp, byte[] loader) {
    }

    private final ByteArrayOutputStream script = new ByteArrayOutputStream();

    private TableLoader() {
    }

    /** The files for {@code acpi}'s tables (at most 64 KiB of them, as the direct-boot window). */
    public static Files of(AcpiTables acpi) {
        AcpiTables.Image image = acpi.build(0, AcpiTables.DEFAULT_SIZE);
        byte[] tables = image.bytes().clone();
        byte[] rsdp = Arrays.copyOf(tables, RootTables.RSDP_SIZE);
        Arrays.fill(tables, 0, RootTables.RSDP_SIZE, (byte) 0); // the RSDP lives in its own file
        Map<String, Long> at = image.tables();
        TableLoader l = new TableLoader();
        l.allocate(TABLES, 64, ZONE_HIGH);
        l.allocate(RSDP, 16, ZONE_FSEG);
        int fadt = at.get("FACP").intValue();
        l.pointer(TABLES, TABLES, fadt + 36, 4);  // FIRMWARE_CTRL (FACS)
        l.pointer(TABLES, TABLES, fadt + 40, 4);  // DSDT
        l.pointer(TABLES, TABLES, fadt + 140, 8); // X_DSDT
        int xsdt = at.get("XSDT").intValue();
        int rsdt = at.get("RSDT").intValue();
        for (int off = SdtWriter.HEADER_SIZE; off < length(tables, xsdt); off += 8) {
            l.pointer(TABLES, TABLES, xsdt + off, 8);
        }
        for (int off = SdtWriter.HEADER_SIZE; off < length(tables, rsdt); off += 4) {
            l.pointer(TABLES, TABLES, rsdt + off, 4);
        }
        l.pointer(RSDP, TABLES, 16, 4);           // RsdtAddress
        l.pointer(RSDP, TABLES, 24, 8);           // XsdtAddress
        for (Map.Entry<String, Long> t : at.entrySet()) {
            String sig = t.getKey();
            if (!sig.equals("RSDP") && !sig.equals("FACS")) { // the FACS has no checksum
                int off = t.getValue().intValue();
                l.checksum(TABLES, off + 9, off, length(tables, off));
            }
        }
        l.checksum(RSDP, 8, 0, 20);
        l.checksum(RSDP, 32, 0, RootTables.RSDP_SIZE);
        return new Files(tables, rsdp, l.script.toByteArray());
    }

    private static int length(byte[] b, int table) {
        return (b[table + 4] & 0xFF) | (b[table + 5] & 0xFF) << 8 | (b[table + 6] & 0xFF) << 16
            | (b[table + 7] & 0xFF) << 24;
    }

    private void allocate(String file, int align, int zone) {
        byte[] e = entry(CMD_ALLOCATE);
        name(e, 4, file);
        putU32(e, 4 + NAME, align);
        e[4 + NAME + 4] = (byte) zone;
        script.writeBytes(e);
    }

    private void pointer(String dest, String src, int offset, int size) {
        byte[] e = entry(CMD_ADD_POINTER);
        name(e, 4, dest);
        name(e, 4 + NAME, src);
        putU32(e, 4 + 2 * NAME, offset);
        e[4 + 2 * NAME + 4] = (byte) size;
        script.writeBytes(e);
    }

    private void checksum(String file, int offset, int start, int length) {
        byte[] e = entry(CMD_ADD_CHECKSUM);
        name(e, 4, file);
        putU32(e, 4 + NAME, offset);
        putU32(e, 4 + NAME + 4, start);
        putU32(e, 4 + NAME + 8, length);
        script.writeBytes(e);
    }

    private static byte[] entry(int command) {
        byte[] e = new byte[ENTRY_SIZE];
        putU32(e, 0, command);
        return e;
    }

    private static void name(byte[] e, int at, String name) {
        byte[] b = name.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, e, at, Math.min(b.length, NAME - 1));
    }

    private static void putU32(byte[] b, int at, long v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }
}
