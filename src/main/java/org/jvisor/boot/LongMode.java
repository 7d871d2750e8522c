package org.jvisor.boot;

import org.jvisor.cpu.SegmentRegister;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.GuestMemory;

/**
 * What every direct boot into 64-bit mode needs (the test-guest contract and Linux's 64-bit boot
 * protocol alike): flat descriptors, an identity map of 2 MiB pages, and the vCPU state of long
 * mode with paging on and interrupts off (SDM vol. 3, 9.8.5 "Initializing IA-32e Mode").
 */
public final class LongMode {
    /** 64-bit code: L=1, P, DPL 0, type 0xB (execute/read, accessed), G. */
    public static final long CODE64_DESC = 0x00AF_9B00_0000_FFFFL;
    /** 4 GiB flat data: P, DPL 0, type 0x3 (read/write, accessed), D/B, G. */
    public static final long DATA_DESC = 0x00CF_9300_0000_FFFFL;
    /** 64-bit busy TSS at base 0, limit 0x67 (two GDT slots): VMX entry wants a usable TR. */
    public static final long TSS_DESC = 0x0000_8B00_0000_0067L;

    private static final long PTE_P = 1;
    private static final long PTE_RW = 2;
    private static final long PTE_PS = 1L << 7;

    private LongMode() {
    }

    /** Bytes of page tables {@link #writeIdentityMap} writes for {@code gigabytes} GiB. */
    public static long identityMapBytes(long gigabytes) {
        return (2 + gigabytes) * 0x1000;
    }

    /**
     * PML4 at {@code base}, PDPT at +4 KiB, one page directory per GiB from +8 KiB:
     * [0, gigabytes GiB) identity-mapped with 2 MiB pages.
     */
    public static void writeIdentityMap(GuestMemory ram, long base, long gigabytes) {
        long pml4 = base;
        long pdpt = base + 0x1000;
        long pd0 = base + 0x2000;
        ram.fill(base, identityMapBytes(gigabytes), (byte) 0);
        ram.writeU64(pml4, pdpt | PTE_P | PTE_RW);
        for (long g = 0; g < gigabytes; g++) {
            long pd = pd0 + g * 0x1000;
            ram.writeU64(pdpt + g * 8, pd | PTE_P | PTE_RW);
            for (long e = 0; e < 512; e++) {
                ram.writeU64(pd + e * 8, (g << 30) | (e << 21) | PTE_P | PTE_RW | PTE_PS);
            }
        }
    }

    /** A GDT at {@code gdt}: null descriptors up to the code selector, then code, data and a TSS. */
    public static void writeGdt(GuestMemory ram, long gdt, int codeSel, int dataSel, int tssSel) {
        ram.fill(gdt, tssSel + 16, (byte) 0);
        ram.writeU64(gdt + codeSel, CODE64_DESC);
        ram.writeU64(gdt + dataSel, DATA_DESC);
        ram.writeU64(gdt + tssSel, TSS_DESC);
    }

    /**
     * The vCPU in 64-bit mode at {@code entry}: CPL 0, IF clear, CR0 PE|ET|NE|PG plus
     * {@code cr0Extra}, CR4 PAE plus {@code cr4Extra}, EFER LME|LMA, the given flat selectors loaded.
     */
    public static X86State state(long entry, long gdt, int codeSel, int dataSel, int tssSel, long pml4,
                                 long cr0Extra, long cr4Extra) {
        X86State st = new X86State();
        st.rip = entry;
        st.rflags = X86State.FIXED1;
        st.cr0 = X86State.CR0_PE | X86State.CR0_ET | X86State.CR0_NE | X86State.CR0_PG | cr0Extra;
        st.cr3 = pml4;
        st.cr4 = X86State.CR4_PAE | cr4Extra;
        st.efer = X86State.EFER_LME | X86State.EFER_LMA;
        st.gdtr.base = gdt;
        st.gdtr.limit = tssSel + 16 - 1;
        st.idtr.base = 0;
        st.idtr.limit = 0;
        st.cs.loadDescriptor(codeSel, CODE64_DESC);
        for (SegmentRegister seg : new SegmentRegister[] {st.ds, st.es, st.fs, st.gs, st.ss}) {
            seg.loadDescriptor(dataSel, DATA_DESC);
        }
        st.tr.loadDescriptor(tssSel, TSS_DESC);
        st.ldtr.selector = 0;
        st.ldtr.type = 2;
        st.ldtr.present = true;
        st.ldtr.limit = 0xFFFF;
        st.ldtr.unusable = true;
        return st;
    }
}
