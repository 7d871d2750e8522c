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

    private static final long PTE_P = 1;
    private static final long PTE_RW = 2;
    private static final long PTE_PS = 1L << 7;

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
        if (PD_ADDR + gigabytes * 0x1000 > STACK_TOP - 0x10000) {
            throw new BootException(what + ": too much RAM to identity-map for a test guest");
        }
        ram.fill(PML4_ADDR, 0x2000, (byte) 0);
        ram.writeU64(PML4_ADDR, PDPT_ADDR | PTE_P | PTE_RW);
        for (long g = 0; g < gigabytes; g++) {
            long pd = PD_ADDR + g * 0x1000;
            ram.writeU64(PDPT_ADDR + g * 8, pd | PTE_P | PTE_RW);
            for (long e = 0; e < 512; e++) {
                long phys = (g << 30) | (e << 21);
                ram.writeU64(pd + e * 8, phys | PTE_P | PTE_RW | PTE_PS);
            }
        }
    }

    private static void writeGdt(GuestMemory ram) {
        ram.writeU64(GDT_ADDR, 0);
        ram.writeU64(GDT_ADDR + CODE64_SELECTOR, 0x00AF_9B00_0000_FFFFL); // L=1, P, DPL0, code exec/read, accessed
        ram.writeU64(GDT_ADDR + DATA_SELECTOR, 0x00CF_9300_0000_FFFFL);   // 4 GiB data read/write, accessed
        ram.writeU64(GDT_ADDR + TSS_SELECTOR, 0x0000_8B00_0000_0067L);   // 64-bit busy TSS at 0 (two slots)
        ram.writeU64(GDT_ADDR + TSS_SELECTOR + 8, 0);
    }

    /** The architectural state at e_entry: long mode, CPL 0, IF clear. */
    public static X86State longModeState(long entry) {
        X86State st = new X86State();
        st.rip = entry;
        st.rflags = X86State.FIXED1;
        st.gpr[4] = STACK_TOP;
        st.cr0 = X86State.CR0_PE | X86State.CR0_MP | X86State.CR0_ET | X86State.CR0_NE | X86State.CR0_WP | X86State.CR0_PG;
        st.cr3 = PML4_ADDR;
        st.cr4 = X86State.CR4_PAE | X86State.CR4_OSFXSR | X86State.CR4_OSXMMEXCPT;
        st.efer = X86State.EFER_LME | X86State.EFER_LMA;
        st.gdtr.base = GDT_ADDR;
        st.gdtr.limit = 0x27;
        st.idtr.base = 0;
        st.idtr.limit = 0;
        st.cs.loadDescriptor(CODE64_SELECTOR, 0x00AF_9B00_0000_FFFFL);
        for (var seg : new org.jvisor.cpu.SegmentRegister[] {st.ds, st.es, st.fs, st.gs, st.ss}) {
            seg.loadDescriptor(DATA_SELECTOR, 0x00CF_9300_0000_FFFFL);
        }
        st.tr.loadDescriptor(TSS_SELECTOR, 0x0000_8B00_0000_0067L);
        st.ldtr.selector = 0;
        st.ldtr.type = 2;
        st.ldtr.present = true;
        st.ldtr.limit = 0xFFFF;
        st.ldtr.unusable = true;
        return st;
    }
}
