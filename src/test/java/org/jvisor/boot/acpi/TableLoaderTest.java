package org.jvisor.boot.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs etc/table-loader as SeaBIOS's romfile_loader does (allocate each file at an address of
 * its zone, add the pointee's address to each pointer, fix each checksum) and checks that the
 * result is a table tree a guest can walk: RSDP to XSDT and RSDT to FADT to DSDT and FACS, every
 * checksum zero.
 */
class TableLoaderTest {
    /** Where the "firmware" puts the two files: the tables high, the RSDP in the F segment. */
    private static final long TABLES_AT = 0x7FF_0000L, RSDP_AT = 0xF5A40L;

    @Test
    void theLoaderScriptLinksTheTablesWhereverTheFirmwarePutsThem() {
        TableLoader.Files f = TableLoader.of(new AcpiTables(2));
        Map<String, byte[]> files = new HashMap<>();
        files.put(TableLoader.TABLES, f.tables().clone());
        files.put(TableLoader.RSDP, f.rsdp().clone());
        Map<String, Long> placed = new HashMap<>();
        ByteBuffer script = ByteBuffer.wrap(f.loader()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0, f.loader().length % TableLoader.ENTRY_SIZE);
        for (int at = 0; at < f.loader().length; at += TableLoader.ENTRY_SIZE) {
            int cmd = script.getInt(at);
            String file = name(f.loader(), at + 4);
            switch (cmd) {
                case TableLoader.CMD_ALLOCATE -> {
                    int zone = f.loader()[at + 4 + 56 + 4];
                    placed.put(file, zone == TableLoader.ZONE_FSEG ? RSDP_AT : TABLES_AT);
                    long align = script.getInt(at + 4 + 56);
                    assertEquals(0, placed.get(file) % align, file + " aligned");
                }
                case TableLoader.CMD_ADD_POINTER -> {
                    String src = name(f.loader(), at + 4 + 56);
                    int off = script.getInt(at + 4 + 112);
                    int size = f.loader()[at + 4 + 112 + 4];
                    ByteBuffer d = ByteBuffer.wrap(files.get(file)).order(ByteOrder.LITTLE_ENDIAN);
                    if (size == 4) {
                        d.putInt(off, (int) (d.getInt(off) + placed.get(src)));
                    } else {
                        assertEquals(8, size);
                        d.putLong(off, d.getLong(off) + placed.get(src));
                    }
                }
                case TableLoader.CMD_ADD_CHECKSUM -> {
                    byte[] b = files.get(file);
                    int off = script.getInt(at + 4 + 56);
                    int start = script.getInt(at + 4 + 60);
                    int len = script.getInt(at + 4 + 64);
                    b[off] -= (byte) SdtWriter.sum(b, start, len);
                }
                default -> throw new AssertionError("command " + cmd);
            }
        }
        byte[] rsdp = files.get(TableLoader.RSDP);
        byte[] tables = files.get(TableLoader.TABLES);
        ByteBuffer r = ByteBuffer.wrap(rsdp).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("RSD PTR ", new String(rsdp, 0, 8, StandardCharsets.US_ASCII));
        assertEquals(0, SdtWriter.sum(rsdp, 0, 20) & 0xFF);
        assertEquals(0, SdtWriter.sum(rsdp, 0, RootTables.RSDP_SIZE) & 0xFF);
        ByteBuffer t = ByteBuffer.wrap(tables).order(ByteOrder.LITTLE_ENDIAN);
        int xsdt = (int) (r.getLong(24) - TABLES_AT);
        int rsdt = (int) (r.getInt(16) - TABLES_AT);
        assertEquals("XSDT", sig(tables, xsdt));
        assertEquals("RSDT", sig(tables, rsdt));
        int fadt = (int) (t.getLong(xsdt + 36) - TABLES_AT);
        assertEquals(fadt, (int) (t.getInt(rsdt + 36) - TABLES_AT));
        assertEquals("FACP", sig(tables, fadt));
        assertEquals("DSDT", sig(tables, (int) (t.getInt(fadt + 40) - TABLES_AT)));
        assertEquals("DSDT", sig(tables, (int) (t.getLong(fadt + 140) - TABLES_AT)));
        assertEquals("FACS", sig(tables, (int) (t.getInt(fadt + 36) - TABLES_AT)));
        for (int off : new int[] {xsdt, rsdt, fadt, (int) (t.getLong(xsdt + 44) - TABLES_AT)}) {
            assertEquals(0, SdtWriter.sum(tables, off, t.getInt(off + 4)) & 0xFF, sig(tables, off) + " checksum");
        }
        assertTrue(new String(tables, 0, 8, StandardCharsets.ISO_8859_1).indexOf("RSD PTR") < 0,
            "no stale RSDP in the tables file");
    }

    private static String sig(byte[] b, int off) {
        return new String(b, off, 4, StandardCharsets.US_ASCII);
    }

    private static String name(byte[] b, int at) {
        int n = 0;
        while (n < 56 && b[at + n] != 0) {
            n++;
        }
        return new String(b, at, n, StandardCharsets.US_ASCII);
    }
}
