package org.jvisor.boot.linux;

import org.jvisor.boot.LongMode;
import org.jvisor.cpu.Gpr;
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

    /** How much the identity map covers: the first 4 GiB (RAM below the hole and the hole itself). */
    static final long IDENTITY_MAPPED = 1L << 32;
    /** Bytes of page tables for that map: PML4, PDPT and four page directories of 2 MiB pages. */
    static final long PAGE_TABLE_BYTES = LongMode.identityMapBytes(IDENTITY_MAPPED >>> 30);

    private LongModeSetup() {
    }

    static void writeGdt(GuestMemory ram, long gdt) {
        LongMode.writeGdt(ram, gdt, BOOT_CS, BOOT_DS, BOOT_TSS);
    }

    /** PML4 at {@code base}, PDPT at +4 KiB, page directories at +8..+24 KiB: [0, 4 GiB) identity-mapped with 2 MiB pages. */
    static void writeIdentityMap(GuestMemory ram, long base) {
        LongMode.writeIdentityMap(ram, base, IDENTITY_MAPPED >>> 30);
    }

    /** The vCPU at the kernel's 64-bit entry: RIP {@code entry}, RSI {@code zeroPage}, RSP {@code stackTop}. */
    static X86State entryState(long entry, long zeroPage, long stackTop, long gdt, long pml4) {
        X86State st = LongMode.state(entry, gdt, BOOT_CS, BOOT_DS, BOOT_TSS, pml4, 0, 0);
        st.set(Gpr.RSI, zeroPage);
        st.set(Gpr.RSP, stackTop);
        return st;
    }
}
