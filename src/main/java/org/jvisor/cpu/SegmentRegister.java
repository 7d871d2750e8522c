package org.jvisor.cpu;

/**
 * A segment register with its hidden part (base, limit, attributes), in the shape both KVM's
 * kvm_segment and the descriptor tables use (SDM vol. 3, 3.4.5).
 */
public final class SegmentRegister {
    public int selector;
    public long base;
    /** Limit in bytes, already scaled by the granularity bit. */
    public int limit;
    /** Descriptor type field (bits 8-11 of the descriptor's high dword). */
    public int type;
    /** S: 1 for code/data, 0 for system segments. */
    public boolean s;
    public int dpl;
    public boolean present;
    public boolean avl;
    /** L: 64-bit code segment. */
    public boolean l;
    /** D/B: 32-bit default operand size (or big stack). */
    public boolean db;
    public boolean g;
    /** Null or otherwise unusable (VMX's notion, which KVM exposes). */
    public boolean unusable;

    public void copyFrom(SegmentRegister o) {
        selector = o.selector;
        base = o.base;
        limit = o.limit;
        type = o.type;
        s = o.s;
        dpl = o.dpl;
        present = o.present;
        avl = o.avl;
        l = o.l;
        db = o.db;
        g = o.g;
        unusable = o.unusable;
    }

    /**
     * Sets selector and hidden part directly, as the instructions that load fixed values do
     * (SYSCALL/SYSRET, SYSENTER/SYSEXIT, the null SS of a privilege change in IA-32e mode).
     */
    public void set(int selector, long base, int limit, int type, boolean s, int dpl, boolean present,
                    boolean l, boolean db, boolean g) {
        this.selector = selector;
        this.base = base;
        this.limit = limit;
        this.type = type;
        this.s = s;
        this.dpl = dpl;
        this.present = present;
        this.l = l;
        this.db = db;
        this.g = g;
        this.unusable = !present;
    }

    /** Loads the hidden part from a raw 8-byte GDT/LDT descriptor (SDM vol. 3, 3.4.5). */
    public void loadDescriptor(int selector, long desc) {
        this.selector = selector;
        long lim = (desc & 0xFFFF) | ((desc >>> 32) & 0xF0000);
        g = ((desc >>> 55) & 1) != 0;
        limit = (int) (g ? (lim << 12) | 0xFFF : lim);
        base = ((desc >>> 16) & 0xFFFFFF) | (((desc >>> 56) & 0xFF) << 24);
        type = (int) ((desc >>> 40) & 0xF);
        s = ((desc >>> 44) & 1) != 0;
        dpl = (int) ((desc >>> 45) & 3);
        present = ((desc >>> 47) & 1) != 0;
        avl = ((desc >>> 52) & 1) != 0;
        l = ((desc >>> 53) & 1) != 0;
        db = ((desc >>> 54) & 1) != 0;
        unusable = !present;
    }

    @Override
    public String toString() {
        return String.format("sel=%04x base=%016x limit=%08x type=%x s=%d dpl=%d p=%d l=%d db=%d g=%d",
            selector, base, limit, type, s ? 1 : 0, dpl, present ? 1 : 0, l ? 1 : 0, db ? 1 : 0, g ? 1 : 0);
    }
}
