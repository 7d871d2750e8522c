package org.jvisor.boot.linux;

import org.jvisor.cpu.Gpr;
import org.jvisor.cpu.SegmentRegister;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.GuestMemory;

/**
 * What the 64-bit boot protocol asks of the CPU at the kernel's entry (boot.rst "64-bit Boot
 * Protocol"): long mode with paging on and the kernel, zero page and command line identity-mapped;
 * a GDT with 4 GiB flat __BOOT_CS (0x10, execute/read) and __BOOT_DS (0x18, read/write); CS =
 * __BOOT_CS, DS = ES = SS = __BOOT_DS; interrupts off; RSI = the zero page.
 */
final class LongModeSetup {
    /** boot.rst: __BOOT_CS. */
    static final int BOOT_CS = 0x10;
    /** boot.rst: __BOOT_DS. */
    static final int BOOT_DS = 0x18;
    /** A 64-bit TSS descriptor (two slots): VMX entry wants a usable TR; never used before the kernel loads its own. */
    static final int BOOT_TSS = 0x20;
    static final int GDT_LIMIT = BOOT_TSS + 16 - 1;

    /** 64-bit code: L=1, P, DPL 0, type 0xB (execute/read, accessed), G. */
    static final long CODE64_DESC = 0x00AF_9B00_0000_FFFFL;
    /** 4 GiB flat data: P, DPL 0, type 0x3 (read/write, accessed), D/B, G. */
    static final long DATA_DESC = 0x00CF_9300_0000_FFFFL;
    /** 64-bit busy TSS at base 0, limit 0x67. */
    static final long TSS_DESC = 0x0000_8B00_0000_0067L;

    /** How much the identity map covers: the first 4 GiB (RAM below the hole and the hole itself). */
    static final long IDENTITY_MAPPED = 1L << 32;
    /** Bytes of page tables for that map: PML4, PDPT and four page directories of 2 MiB pages. */
    static final long PAGE_TABLE_BYTES = 6 * 0x1000;

    private static final long PTE_P = 1;
    private static final long PTE_RW = 2;
    private static final long PTE_PS = 1L << 7;

    private LongModeSetup() {
    }

    static void writeGdt(GuestMemory ram, long gdt) {
        ram.writeU64(gdt, 0);
        ram.writeU64(gdt + 0x08, 0);
        ram.writeU64(gdt + BOOT_CS, CODE64_DESC);
        ram.writeU64(gdt + BOOT_DS, DATA_DESC);
        ram.writeU64(gdt + BOOT_TSS, TSS_DESC);
        ram.writeU64(gdt + BOOT_TSS + 8, 0);
    }

    /** PML4 at {@code base}, PDPT at +4 KiB, page directories at +8..+24 KiB: [0, 4 GiB) identity-mapped with 2 MiB pages. */
    static void writeIdentityMap(GuestMemory ram, long base) {
        long pml4 = base;
        long pdpt = base + 0x1000;
        long pd0 = base + 0x2000;
        ram.fill(base, PAGE_TABLE_BYTES, (byte) 0);
        ram.writeU64(pml4, pdpt | PTE_P | PTE_RW);
        for (long g = 0; g < IDENTITY_MAPPED >>> 30; g++) {
            long pd = pd0 + g * 0x1000;
            ram.writeU64(pdpt + g * 8, pd | PTE_P | PTE_RW);
            for (long e = 0; e < 512; e++) {
                ram.writeU64(pd + e * 8, (g << 30) | (e << 21) | PTE_P | PTE_RW | PTE_PS);
            }
        }
    }

    /** The vCPU at the kernel's 64-bit entry: RIP {@code entry}, RSI {@code zeroPage}, RSP {@code stackTop}. */
    static X86State entryState(long entry, long zeroPage, long stackTop, long gdt, long pml4) {
        X86State st = new X86State();
        st.rip = entry;
        st.rflags = X86State.FIXED1; // IF = 0
        st.set(Gpr.RSI, zeroPage);
        st.set(Gpr.RSP, stackTop);
        st.cr0 = X86State.CR0_PE | X86State.CR0_ET | X86State.CR0_NE | X86State.CR0_PG;
        st.cr3 = pml4;
        st.cr4 = X86State.CR4_PAE;
        st.efer = X86State.EFER_LME | X86State.EFER_LMA;
        st.gdtr.base = gdt;
        st.gdtr.limit = GDT_LIMIT;
        st.idtr.base = 0;
        st.idtr.limit = 0;
        st.cs.loadDescriptor(BOOT_CS, CODE64_DESC);
        for (SegmentRegister seg : new SegmentRegister[] {st.ds, st.es, st.fs, st.gs, st.ss}) {
            seg.loadDescriptor(BOOT_DS, DATA_DESC);
        }
        st.tr.loadDescriptor(BOOT_TSS, TSS_DESC);
        st.ldtr.selector = 0;
        st.ldtr.type = 2;
        st.ldtr.present = true;
        st.ldtr.limit = 0xFFFF;
        st.ldtr.unusable = true;
        return st;
    }
}
