package org.jvisor.boot;

import org.jvisor.cpu.X86State;
import org.jvisor.memory.GuestMemory;

/**
 * The test-guest contract, shared by both engines: PT_LOAD segments go to their physical
 * addresses and the vCPU starts at e_entry in 64-bit mode with paging on, all RAM and the 3-4 GiB
 * MMIO window identity-mapped with 2 MiB pages, flat segments and interrupts off.
 *
 * Low memory below {@link #RESERVED_END} holds what we build (GDT, page tables, initial stack);
 * guest segments may not overlap it.
 */
public final class TestGuestBoot {
    public static final long GDT_ADDR = 0x500;
    public static final long PML4_ADDR = 0x1000;
    public static final long PDPT_ADDR = 0x2000;
    public static final long PD_ADDR = 0x3000;
    /** The initial RSP: the top of the reserved area, the stack grows down into it. */
    public static final long STACK_TOP = 0x80000;
    public static final long RESERVED_END = 0x80000;

    public static final int CODE64_SELECTOR = 0x08;
    public static final int DATA_SELECTOR = 0x10;
    public static final int TSS_SELECTOR = 0x18;

    private TestGuestBoot() {
    }

    /** Loads the image into RAM and returns the entry state for the boot vCPU. */
    public static X86State load(ElfImage elf, GuestMemory ram, byte[] file, String what) throws BootException {
        for (ElfImage.Segment s : elf.segments()) {
            if (s.memSize() == 0) {
                continue;
            }
            if (s.physAddr() < RESERVED_END) {
                throw new BootException(String.format(
                    "%s: segment at %#x overlaps jvisor's boot area below %#x (link test guests at 1 MiB or above)",
                    what, s.physAddr(), RESERVED_END));
            }
            if (!ram.isRam(s.physAddr(), s.memSize())) {
                throw new BootException(String.format(
                    "%s: segment [%#x, +%#x) does not fit in guest RAM (%d MiB)",
                    what, s.physAddr(), s.memSize(), ram.size() >> 20));
            }
            ram.write(s.physAddr(), file, (int) s.fileOffset(), (int) s.fileSize());
            ram.fill(s.physAddr() + s.fileSize(), s.memSize() - s.fileSize(), (byte) 0);
        }
        long mappedEnd = Math.max(GuestMemory.HIGH_RAM_START, ramEnd(ram));
        writePageTables(ram, mappedEnd, what);
        writeGdt(ram);
        X86State st = longModeState(elf.entry());
        return st;
    }

    private static long ramEnd(GuestMemory ram) {
        long end = 0;
        for (GuestMemory.RamRange r : ram.ranges()) {
            end = Math.max(end, r.end());
        }
        return end;
    }

    private static void writePageTables(GuestMemory ram, long mappedEnd, String what) throws BootException {
        long gigabytes = (mappedEnd + (1L << 30) - 1) >>> 30;
        if (PML4_ADDR + LongMode.identityMapBytes(gigabytes) > STACK_TOP - 0x10000) {
            throw new BootException(what + ": too much RAM to identity-map for a test guest");
        }
        LongMode.writeIdentityMap(ram, PML4_ADDR, gigabytes);
    }

    private static void writeGdt(GuestMemory ram) {
        LongMode.writeGdt(ram, GDT_ADDR, CODE64_SELECTOR, DATA_SELECTOR, TSS_SELECTOR);
    }

    /** The architectural state at e_entry: long mode, CPL 0, IF clear. */
    public static X86State longModeState(long entry) {
        X86State st = LongMode.state(entry, GDT_ADDR, CODE64_SELECTOR, DATA_SELECTOR, TSS_SELECTOR, PML4_ADDR,
            X86State.CR0_MP | X86State.CR0_WP, X86State.CR4_OSFXSR | X86State.CR4_OSXMMEXCPT);
        st.gpr[4] = STACK_TOP;
        return st;
    }
}
