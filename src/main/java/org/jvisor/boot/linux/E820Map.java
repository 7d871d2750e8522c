package org.jvisor.boot.linux;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import org.jvisor.boot.BootException;
import org.jvisor.memory.GuestMemory;

/**
 * The BIOS e820 memory map handed to Linux in the zero page (zero-page.rst: e820_entries at 0x1E8,
 * e820_table at 0x2D0, at most 128 entries of 20 bytes).
 *
 * <p>Built from the guest's RAM ranges: usable RAM below the PCI hole and from 4 GiB; the EBDA and
 * BIOS area [0x9FC00, 0x100000) reserved, as on a PC; the caller's reserved ranges carved out of RAM
 * (or, outside RAM, listed as they are). Nothing else of the PCI hole appears. Entries are sorted,
 * do not overlap and adjacent entries of one type are merged.
 */
public record E820Map(List<Entry> entries) {

    /** zero-page.rst: e820_table holds 128 entries (0xA00 bytes of 20). */
    public static final int MAX_ENTRIES = 128;
    /** Start of the Extended BIOS Data Area, as PCs and Firecracker put it. */
    public static final long EBDA_START = 0x9FC00;
    /** End of the BIOS area: RAM resumes at 1 MiB. */
    public static final long BIOS_END = 0x100000;

    /** e820 entry types (ACPI spec, "Address Range Types"). */
    public enum Type {
        RAM(1), RESERVED(2), ACPI(3), NVS(4), UNUSABLE(5), PMEM(7);

        public final int code;

        Type(int code) {
            this.code = code;
        }
    }

    public record Entry(long addr, long size, Type type) {
        public long end() {
            return addr + size;
        }

        @Override
        public String toString() {
            return String.format("[%#014x-%#014x] %s", addr, end() - 1, type);
        }
    }

    public E820Map {
        entries = List.copyOf(entries);
    }

    /** The map for {@code ram} with the BIOS area and {@code reserved} taken out of it. */
    public static E820Map build(GuestMemory ram, List<ReservedRange> reserved) throws BootException {
        return build(ram.ranges(), reserved);
    }

    public static E820Map build(List<GuestMemory.RamRange> ram, List<ReservedRange> reserved) throws BootException {
        for (int i = 0; i < reserved.size(); i++) {
            for (int j = i + 1; j < reserved.size(); j++) {
                ReservedRange a = reserved.get(i);
                ReservedRange b = reserved.get(j);
                if (a.overlaps(b.start(), b.size()) && a.type() != b.type()) {
                    throw new BootException(String.format("reserved ranges %s [%#x, %#x) (%s) and %s [%#x, %#x) (%s) overlap",
                        a.what(), a.start(), a.end(), a.type(), b.what(), b.start(), b.end(), b.type()));
                }
            }
        }
        // Sweep the elementary intervals between all boundaries; each takes the strongest type covering it:
        // a caller's range, then the BIOS area, then RAM.
        ReservedRange bios = new ReservedRange(EBDA_START, BIOS_END - EBDA_START, Type.RESERVED, "EBDA and BIOS area");
        TreeSet<Long> cuts = new TreeSet<>();
        for (GuestMemory.RamRange r : ram) {
            cuts.add(r.guestAddress());
            cuts.add(r.end());
        }
        cuts.add(bios.start());
        cuts.add(bios.end());
        for (ReservedRange r : reserved) {
            cuts.add(r.start());
            cuts.add(r.end());
        }
        List<Entry> out = new ArrayList<>();
        Long prev = null;
        for (long cut : cuts) {
            if (prev != null) {
                Type t = typeOf(prev, cut, ram, bios, reserved);
                if (t != null) {
                    append(out, new Entry(prev, cut - prev, t));
                }
            }
            prev = cut;
        }
        if (out.size() > MAX_ENTRIES) {
            throw new BootException("the e820 map has " + out.size() + " entries; the zero page holds at most " + MAX_ENTRIES);
        }
        return new E820Map(out);
    }

    private static Type typeOf(long from, long to, List<GuestMemory.RamRange> ram, ReservedRange bios,
                               List<ReservedRange> reserved) {
        for (ReservedRange r : reserved) {
            if (r.start() <= from && to <= r.end()) {
                return r.type();
            }
        }
        boolean isRam = false;
        for (GuestMemory.RamRange r : ram) {
            if (r.guestAddress() <= from && to <= r.end()) {
                isRam = true;
            }
        }
        if (isRam && bios.start() <= from && to <= bios.end()) {
            return Type.RESERVED; // only where there is RAM: the BIOS area of a guest with RAM there
        }
        return isRam ? Type.RAM : null;
    }

    private static void append(List<Entry> out, Entry e) {
        if (!out.isEmpty()) {
            Entry last = out.getLast();
            if (last.type() == e.type() && last.end() == e.addr()) {
                out.set(out.size() - 1, new Entry(last.addr(), last.size() + e.size(), e.type()));
                return;
            }
        }
        out.add(e);
    }

    /** True if [addr, addr + size) lies wholly inside one usable-RAM entry. */
    public boolean isUsable(long addr, long size) {
        if (size < 0) {
            return false;
        }
        for (Entry e : entries) {
            // compared without addr + size, which wraps near 2^63 and would then pass
            if (e.type() == Type.RAM && e.addr() <= addr && addr <= e.end() - size) {
                return true;
            }
        }
        return false;
    }

    /** The usable-RAM entry containing {@code addr}, or null. */
    public Entry usableAt(long addr) {
        for (Entry e : entries) {
            if (e.type() == Type.RAM && e.addr() <= addr && addr < e.end()) {
                return e;
            }
        }
        return null;
    }

    /** The non-RAM entries overlapping [addr, addr + size), lowest first. */
    public List<Entry> reservedOverlapping(long addr, long size) {
        List<Entry> hits = new ArrayList<>();
        for (Entry e : entries) {
            if (e.type() != Type.RAM && e.addr() < addr + size && addr < e.end()) {
                hits.add(e);
            }
        }
        return hits;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("e820:");
        for (Entry e : entries) {
            sb.append("\n  ").append(e);
        }
        return sb.toString();
    }
}
