package org.jvisor.boot.smbios;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.Test;

/**
 * The tables read as a guest reads them (SMBIOS 3.0: 6.1.2 structure walk, 7.2.1 UUID byte
 * order, 5.2 entry points with their checksums).
 */
class SmbiosTablesTest {
    private static final UUID ID = UUID.fromString("c0ffee00-1234-5678-9abc-def012345678");

    /** A structure as read: type, formatted area, strings. */
    private record Read(int type, byte[] formatted, List<String> strings) {
        String string(int offset) {
            int n = formatted[offset] & 0xFF;
            return n == 0 ? null : strings.get(n - 1);
        }
    }

    private static List<Read> walk(byte[] t) {
        List<Read> out = new ArrayList<>();
        int off = 0;
        while (off < t.length) {
            int len = t[off + 1] & 0xFF;
            byte[] formatted = java.util.Arrays.copyOfRange(t, off, off + len);
            List<String> strings = new ArrayList<>();
            int p = off + len;
            if (t[p] == 0 && t[p + 1] == 0) {
                p += 2;
            } else {
                while (t[p] != 0) {
                    int end = p;
                    while (t[end] != 0) {
                        end++;
                    }
                    strings.add(new String(t, p, end - p, StandardCharsets.US_ASCII));
                    p = end + 1;
                }
                p++;
            }
            out.add(new Read(t[off] & 0xFF, formatted, strings));
            off = p;
            if (out.getLast().type() == 127) {
                break;
            }
        }
        assertEquals(t.length, off, "the table ends with its type 127");
        return out;
    }

    private static SmbiosTables tables(UUID uuid) {
        return new SmbiosTables(uuid, 2, List.of(new SmbiosTables.RamRange(0, 0xC000_0000L),
            new SmbiosTables.RamRange(0x1_0000_0000L, 0x4000_0000L)), "1.0");
    }

    @Test
    void structuresAreTheSetLinuxReadsWithTheUuidInSmbiosByteOrder() {
        byte[] t = tables(ID).structures();
        List<Read> s = walk(t);
        assertEquals(List.of(0, 1, 3, 4, 4, 16, 17, 19, 19, 127), s.stream().map(Read::type).toList());
        assertEquals(tables(ID).count(), s.size());
        // handles are unique
        assertEquals(s.size(), s.stream().map(r -> ByteBuffer.wrap(r.formatted(), 2, 2).order(ByteOrder.LITTLE_ENDIAN)
            .getShort()).distinct().count());
        Read system = s.get(1);
        assertEquals("jvisor", system.string(4));
        byte[] u = java.util.Arrays.copyOfRange(system.formatted(), 8, 24);
        // time_low, time_mid, time_hi_and_version little-endian; the rest in network order (7.2.1)
        assertEquals("00eeffc0" + "3412" + "7856" + "9abcdef012345678", java.util.HexFormat.of().formatHex(u));
        assertEquals("CPU 1", s.get(4).string(4));
        // type 16: 4 GiB in KiB; type 17: 4096 MiB; type 19: the second range in KiB
        ByteBuffer array = ByteBuffer.wrap(s.get(5).formatted()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(4L << 20, array.getInt(7) & 0xFFFF_FFFFL);
        assertEquals(4096, ByteBuffer.wrap(s.get(6).formatted()).order(ByteOrder.LITTLE_ENDIAN).getShort(0x0C));
        ByteBuffer high = ByteBuffer.wrap(s.get(8).formatted()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x1_0000_0000L >>> 10, high.getInt(4) & 0xFFFF_FFFFL);
        assertEquals((0x1_4000_0000L - 1) >>> 10, high.getInt(8) & 0xFFFF_FFFFL);
        // no UUID: all zero, "not present but settable"
        byte[] none = java.util.Arrays.copyOfRange(walk(tables(null).structures()).get(1).formatted(), 8, 24);
        assertEquals(0, java.util.stream.IntStream.range(0, 16).map(i -> none[i]).filter(b -> b != 0).count());
    }

    private static int sum(byte[] b, int off, int len) {
        int s = 0;
        for (int i = off; i < off + len; i++) {
            s += b[i];
        }
        return s & 0xFF;
    }

    @Test
    void entryPointsPointAtTheTableWithValidChecksums() {
        byte[] t = tables(ID).structures();
        byte[] ep3 = SmbiosTables.entryPoint64(0xF0020, t.length);
        ByteBuffer b = ByteBuffer.wrap(ep3).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("_SM3_", new String(ep3, 0, 5, StandardCharsets.US_ASCII));
        assertEquals(0, sum(ep3, 0, ep3[6]));
        assertEquals(3, ep3[7]);
        assertEquals(t.length, b.getInt(12));
        assertEquals(0xF0020, b.getLong(16));

        byte[] ep2 = tables(ID).entryPoint32(0, t);
        ByteBuffer c = ByteBuffer.wrap(ep2).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("_SM_", new String(ep2, 0, 4, StandardCharsets.US_ASCII));
        assertEquals("_DMI_", new String(ep2, 16, 5, StandardCharsets.US_ASCII));
        assertEquals(0, sum(ep2, 0, ep2[5]));
        assertEquals(0, sum(ep2, 16, 15));
        assertEquals(t.length, c.getShort(22));
        assertEquals(walk(t).size(), c.getShort(28));
        int longest = 0;
        for (Read r : walk(t)) {
            int len = r.formatted().length + (r.strings().isEmpty() ? 2
                : r.strings().stream().mapToInt(x -> x.length() + 1).sum() + 1);
            longest = Math.max(longest, len);
        }
        assertEquals(longest, c.getShort(8));
        assertTrue(longest >= 0x30);
    }
}
