package org.jvisor.cpu;

import org.jvisor.memory.GuestMemory;

/**
 * Linear to guest-physical translation for a debugger: a walk of the guest's page tables as the
 * vCPU's CR0/CR3/CR4/EFER set them up (SDM vol. 3, chapter 4), with no access-rights checks, no
 * accessed/dirty bits set and no TLB touched, so that looking at memory never changes the guest.
 * QEMU's gdbstub does the same (cpu_memory_rw_debug through x86_cpu_get_phys_page_attrs_debug);
 * an address that no present entry maps is unmapped, which its gdbstub answers with E14.
 */
public final class DebugTranslation {
    /** Address bits of a paging-structure entry (MAXPHYADDR 52, bits 12..51). */
    private static final long ADDR = 0x000F_FFFF_FFFF_F000L;
    private static final long PRESENT = 1, PAGE_SIZE = 1L << 7;

    private final GuestMemory ram;

    public DebugTranslation(GuestMemory ram) {
        this.ram = ram;
    }

    /** The guest-physical address of linear {@code lin} under {@code s}'s paging, or -1 when unmapped. */
    public long toPhysical(X86State s, long lin) {
        if ((s.cr0 & X86State.CR0_PG) == 0) {
            return s.longMode() ? lin : lin & 0xFFFF_FFFFL;
        }
        if (s.longMode()) {
            return long4(s.cr3, lin);
        }
        if ((s.cr4 & X86State.CR4_PAE) != 0) {
            return pae(s.cr3, lin & 0xFFFF_FFFFL);
        }
        return legacy(s.cr3, lin & 0xFFFF_FFFFL, (s.cr4 & X86State.CR4_PSE) != 0);
    }

    /** 4-level paging (SDM vol. 3, 4.5): 48-bit canonical linear addresses. */
    private long long4(long cr3, long lin) {
        if (lin << 16 >> 16 != lin) {
            return -1;  // not canonical: no entry maps it
        }
        long table = cr3 & ADDR;
        for (int shift = 39; shift >= 12; shift -= 9) {
            long e = entry64(table + ((lin >>> shift) & 0x1FF) * 8);
            if ((e & PRESENT) == 0) {
                return -1;
            }
            if (shift == 12 || (shift <= 30 && (e & PAGE_SIZE) != 0)) {
                long pageMask = (1L << shift) - 1;
                return (e & ADDR & ~pageMask) | (lin & pageMask);
            }
            table = e & ADDR;
        }
        throw new AssertionError("unreachable");
    }

    /** PAE paging of 32-bit protected mode (SDM vol. 3, 4.4): four PDPTEs at CR3, then 2 MiB or 4 KiB pages. */
    private long pae(long cr3, long lin) {
        long pdpte = entry64((cr3 & 0xFFFF_FFE0L) + ((lin >>> 30) & 3) * 8);
        if ((pdpte & PRESENT) == 0) {
            return -1;
        }
        long pde = entry64((pdpte & ADDR) + ((lin >>> 21) & 0x1FF) * 8);
        if ((pde & PRESENT) == 0) {
            return -1;
        }
        if ((pde & PAGE_SIZE) != 0) {
            return (pde & ADDR & ~0x1F_FFFFL) | (lin & 0x1F_FFFFL);
        }
        long pte = entry64((pde & ADDR) + ((lin >>> 12) & 0x1FF) * 8);
        return (pte & PRESENT) == 0 ? -1 : (pte & ADDR) | (lin & 0xFFF);
    }

    /** 32-bit paging (SDM vol. 3, 4.3), with 4 MiB pages when CR4.PSE (PSE-36 bits included). */
    private long legacy(long cr3, long lin, boolean pse) {
        long pde = entry32((cr3 & 0xFFFF_F000L) + (lin >>> 22) * 4);
        if ((pde & PRESENT) == 0) {
            return -1;
        }
        if (pse && (pde & PAGE_SIZE) != 0) {
            long high = (pde >>> 13 & 0xFF) << 32;
            return high | (pde & 0xFFC0_0000L) | (lin & 0x3F_FFFFL);
        }
        long pte = entry32((pde & 0xFFFF_F000L) + ((lin >>> 12) & 0x3FF) * 4);
        return (pte & PRESENT) == 0 ? -1 : (pte & 0xFFFF_F000L) | (lin & 0xFFF);
    }

    /** A paging-structure entry; one outside RAM reads as not present (the walk fails). */
    private long entry64(long pa) {
        return ram.isRam(pa, 8) ? ram.readU64(pa) : 0;
    }

    private long entry32(long pa) {
        return ram.isRam(pa, 4) ? ram.readU32(pa) & 0xFFFF_FFFFL : 0;
    }
}
