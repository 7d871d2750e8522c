package org.jvisor.boot.smbios;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The SMBIOS structures a Linux guest reads (DMTF DSP0134 3.0.0): BIOS (type 0), System (type 1,
 * with the -uuid), Chassis (3), one Processor (4) per vCPU, a Physical Memory Array (16) with one
 * Memory Device (17) of all RAM, a Memory Array Mapped Address (19) per RAM range, and
 * End-of-Table (127); with the entry point that finds them, a 64-bit one ("_SM3_", 5.2.2) for
 * a direct kernel boot, where Linux scans 0xF0000-0xFFFFF for it, or the 32-bit one ("_SM_",
 * 5.2.1) that SeaBIOS takes through fw_cfg, as QEMU's pc machines give it.
 *
 * @param uuid the system UUID, or null (all zero: "not present but settable", 7.2.1)
 * @param cpus the vCPU count
 * @param ram  the guest-physical RAM ranges
 * @param biosVersion the BIOS version string (jvisor's)
 */
public record SmbiosTables(UUID uuid, int cpus, List<RamRange> ram, String biosVersion) {

    /** A RAM range in guest-physical memory. */
    public record RamRange(long start, long size) {
    }

    public static final String VENDOR = "jvisor";
    static final int TYPE_BIOS = 0, TYPE_SYSTEM = 1, TYPE_CHASSIS = 3, TYPE_PROCESSOR = 4, TYPE_MEMORY_ARRAY = 16,
        TYPE_MEMORY_DEVICE = 17, TYPE_MAPPED_ADDRESS = 19, TYPE_END = 127;
    /** The 64-bit entry point's length (5.2.2), and the 32-bit one's (5.2.1). */
    public static final int EP3_LENGTH = 0x18, EP21_LENGTH = 0x1F;
    public SmbiosTables {
        ram = List.copyOf(ram);
    }

    /** One structure: its formatted area is built by the caller, the strings follow (7.1.3). */
    private static final class Structure {
        final ByteBuffer b;
        final List<String> strings = new ArrayList<>();

        Structure(int type, int length, int handle) {
            b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
            b.put((byte) type).put((byte) length).putShort((short) handle);
        }

        /** A string's number (1-based; 0 for none), kept for the string set. */
        byte str(String s) {
            if (s == null || s.isEmpty()) {
                return 0;
            }
            strings.add(s);
            return (byte) strings.size();
        }

        void writeTo(ByteArrayOutputStream out) {
            out.writeBytes(b.array());
            if (strings.isEmpty()) {
                out.writeBytes(new byte[] {0, 0});
                return;
            }
            for (String s : strings) {
                out.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
                out.write(0);
            }
            out.write(0);
        }
    }

    /** Number of structures {@link #structures()} makes (the 32-bit entry point counts them). */
    public int count() {
        return 3 + cpus + 2 + ram.size() + 1;
    }

    /** The structure table. */
    public byte[] structures() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int handle = 0;
        // type 0, 7.1: 2.4+ length 0x18, no release date string. Characteristics bit 3 "not
        // supported"; extension byte 2 bit 4: a virtual machine (7.1.2.2)
        Structure bios = new Structure(TYPE_BIOS, 0x18, handle++);
        bios.b.put(bios.str(VENDOR)).put(bios.str(biosVersion)).putShort((short) 0xE800).put((byte) 0)
            .put((byte) 0).putLong(1L << 3).put((byte) 0).put((byte) (1 << 4)).put((byte) 0).put((byte) 0)
            .put((byte) 0xFF).put((byte) 0xFF);
        bios.writeTo(out);
        // type 1, 7.2: 2.4+ length 0x1B; the UUID's first three fields little-endian (7.2.1)
        Structure system = new Structure(TYPE_SYSTEM, 0x1B, handle++);
        system.b.put(system.str(VENDOR)).put(system.str("jvisor virtual machine")).put(system.str(biosVersion))
            .put((byte) 0);
        UUID u = uuid != null ? uuid : new UUID(0, 0);
        long hi = u.getMostSignificantBits();
        system.b.putInt((int) (hi >>> 32)).putShort((short) (hi >>> 16)).putShort((short) hi);
        system.b.order(ByteOrder.BIG_ENDIAN).putLong(u.getLeastSignificantBits()).order(ByteOrder.LITTLE_ENDIAN);
        system.b.put((byte) 0x06).put((byte) 0).put(system.str("jvisor"));   // woken by the power switch
        system.writeTo(out);
        // type 3, 7.4: 2.7+ length 0x16; type "Other", states "Safe", security "Unknown"
        Structure chassis = new Structure(TYPE_CHASSIS, 0x16, handle++);
        chassis.b.put(chassis.str(VENDOR)).put((byte) 0x01).put((byte) 0).put((byte) 0).put((byte) 0)
            .put((byte) 3).put((byte) 3).put((byte) 3).put((byte) 2).putInt(0).put((byte) 0).put((byte) 0)
            .put((byte) 0).put((byte) 0).put((byte) 0);
        chassis.writeTo(out);
        // type 4, 7.5: 3.0 length 0x30; one socket, one core, one thread each, as -smp N lays them
        // out; family "Other", 2000 MHz as QEMU's default (the guest measures its clock itself)
        for (int i = 0; i < cpus; i++) {
            Structure cpu = new Structure(TYPE_PROCESSOR, 0x30, handle++);
            cpu.b.put(cpu.str("CPU " + i)).put((byte) 0x03).put((byte) 0x01).put(cpu.str(VENDOR)).putLong(0)
                .put((byte) 0).put((byte) 0).putShort((short) 0).putShort((short) 2000).putShort((short) 2000)
                .put((byte) 0x41).put((byte) 0x01)                    // socket populated, CPU enabled; "Other"
                .putShort((short) 0xFFFF).putShort((short) 0xFFFF).putShort((short) 0xFFFF)
                .put((byte) 0).put((byte) 0).put((byte) 0)
                .put((byte) 1).put((byte) 1).put((byte) 1).putShort((short) 0x02).putShort((short) 0x01)
                .putShort((short) 1).putShort((short) 1).putShort((short) 1);
            cpu.writeTo(out);
        }
        long total = ram.stream().mapToLong(RamRange::size).sum();
        int arrayHandle = handle++;
        // type 16, 7.17: 2.7+ length 0x17; capacity in KiB, or 0x8000_0000 and the extended field in bytes
        Structure array = new Structure(TYPE_MEMORY_ARRAY, 0x17, arrayHandle);
        long kib = total >>> 10;
        array.b.put((byte) 0x01).put((byte) 0x03).put((byte) 0x06).putInt(kib < 0x8000_0000L ? (int) kib : 0x8000_0000)
            .putShort((short) 0xFFFE).putShort((short) 1).putLong(kib < 0x8000_0000L ? 0 : total);
        array.writeTo(out);
        // type 17, 7.18: 2.8+ length 0x28; size in MiB, or 0x7FFF and the extended field
        Structure dimm = new Structure(TYPE_MEMORY_DEVICE, 0x28, handle++);
        long mib = total >>> 20;
        dimm.b.putShort((short) arrayHandle).putShort((short) 0xFFFE).putShort((short) 0xFFFF).putShort((short) 0xFFFF)
            .putShort((short) (mib < 0x7FFF ? mib : 0x7FFF)).put((byte) 0x09).put((byte) 0).put(dimm.str("DIMM 0"))
            .put((byte) 0).put((byte) 0x07).putShort((short) 0x02).putShort((short) 0).put(dimm.str(VENDOR))
            .put((byte) 0).put((byte) 0).put((byte) 0).put((byte) 0).putInt(mib < 0x7FFF ? 0 : (int) mib)
            .putShort((short) 0).putShort((short) 0).putShort((short) 0).putShort((short) 0);
        dimm.writeTo(out);
        // type 19, 7.20: 2.7+ length 0x1F; addresses in KiB, or 0xFFFF_FFFF and the extended ones in bytes
        for (RamRange r : ram) {
            Structure map = new Structure(TYPE_MAPPED_ADDRESS, 0x1F, handle++);
            long end = r.start() + r.size() - 1;
            boolean small = end >>> 10 < 0xFFFF_FFFFL;
            map.b.putInt(small ? (int) (r.start() >>> 10) : -1).putInt(small ? (int) (end >>> 10) : -1)
                .putShort((short) arrayHandle).put((byte) 1).putLong(small ? 0 : r.start()).putLong(small ? 0 : end);
            map.writeTo(out);
        }
        new Structure(TYPE_END, 4, handle).writeTo(out);
        return out.toByteArray();
    }

    /** The 64-bit entry point (5.2.2) for a structure table of {@code tableLength} bytes at {@code tableAddress}. */
    public static byte[] entryPoint64(long tableAddress, int tableLength) {
        ByteBuffer b = ByteBuffer.allocate(EP3_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.put("_SM3_".getBytes(StandardCharsets.US_ASCII)).put((byte) 0).put((byte) EP3_LENGTH)
            .put((byte) 3).put((byte) 0).put((byte) 0).put((byte) 1).put((byte) 0)
            .putInt(tableLength).putLong(tableAddress);
        byte[] ep = b.array();
        ep[5] = checksum(ep, 0, EP3_LENGTH);
        return ep;
    }

    /**
     * The 32-bit entry point (5.2.1, version 2.8 as QEMU's): the firmware copies it and the table
     * below 1 MiB and sets the address, so {@code tableAddress} may be 0 here.
     */
    public byte[] entryPoint32(long tableAddress, byte[] table) {
        ByteBuffer b = ByteBuffer.allocate(EP21_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.put("_SM_".getBytes(StandardCharsets.US_ASCII)).put((byte) 0).put((byte) EP21_LENGTH).put((byte) 2)
            .put((byte) 8).putShort((short) maxStructure(table)).put((byte) 0).put(new byte[5])
            .put("_DMI_".getBytes(StandardCharsets.US_ASCII)).put((byte) 0).putShort((short) table.length)
            .putInt((int) tableAddress).putShort((short) count()).put((byte) 0x28);
        byte[] ep = b.array();
        ep[0x15] = checksum(ep, 0x10, EP21_LENGTH - 0x10);   // the intermediate checksum covers "_DMI_" on
        ep[4] = checksum(ep, 0, EP21_LENGTH);
        return ep;
    }

    /** The longest structure in {@code table}, strings included (5.2.1 "Maximum Structure Size"). */
    static int maxStructure(byte[] table) {
        int max = 0;
        for (int off = 0; off < table.length; ) {
            int end = off + (table[off + 1] & 0xFF);
            while (table[end] != 0 || table[end + 1] != 0) {
                end++;
            }
            end += 2;
            max = Math.max(max, end - off);
            off = end;
        }
        return max;
    }

    /** The byte that makes {@code b[off, off + len)} sum to 0 (with the checksum byte itself 0 while computing). */
    private static byte checksum(byte[] b, int off, int len) {
        int sum = 0;
        for (int i = off; i < off + len; i++) {
            sum += b[i];
        }
        return (byte) -sum;
    }
}
