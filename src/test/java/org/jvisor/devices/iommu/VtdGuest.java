package org.jvisor.devices.iommu;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;

/**
 * A guest's side of a VT-d unit for tests: RAM with the tables a driver writes (root, context,
 * second-level tables, invalidation queue, interrupt remapping table) and the unit's registers,
 * driven as Linux's intel-iommu driver drives them. Messages the unit sends are collected. Public
 * for the tests of devices behind the unit.
 */
public final class VtdGuest implements AutoCloseable {
    public static final long ROOT = 0x10000, CONTEXT = 0x11000, QUEUE = 0x12000, IRT = 0x13000, STATUS = 0x14000;
    /** Second-level tables are allocated from here, one page each. */
    private long nextTable = 0x20000;

    public final GuestMemory ram = GuestMemory.allocate(128L << 20);
    public final List<String> messages = new ArrayList<>();
    public final List<String> errors = new ArrayList<>();
    public final IntelIommu unit;
    private int tail;

    public VtdGuest(VtdOptions options) {
        unit = new IntelIommu(options, ram, new IdentityDma(ram),
            (address, data) -> messages.add(String.format("%x:%x", address, data)), errors::add);
    }

    public VtdGuest() {
        this(VtdOptions.DEFAULT);
    }

    public long reg(VtdRegister r) {
        return unit.read(r.offset, r.width);
    }

    public void reg(VtdRegister r, long v) {
        unit.write(r.offset, r.width, v);
    }

    public long table() {
        long t = nextTable;
        nextTable += 0x1000;
        return t;
    }

    /** Root entry of {@code bus} present, its context table at CONTEXT. */
    public void root(int bus) {
        ram.writeU64(ROOT + bus * 16L, CONTEXT | 1);
    }

    /** Context entry of devfn: present, translation type, table, AW, domain, FPD. */
    public void context(int devfn, int tt, long table, int aw, int did, boolean fpd) {
        ram.writeU64(CONTEXT + devfn * 16L, table | (long) tt << 2 | (fpd ? 2 : 0) | 1);
        ram.writeU64(CONTEXT + devfn * 16L + 8, (long) did << 8 | aw);
    }

    /**
     * Maps the page of {@code iova} at {@code level} (1: 4 KiB, 2: 2 MiB, 3: 1 GiB) to {@code gpa}
     * with rights {@code rw} (bit 0 read, bit 1 write), building tables below {@code top} of a
     * {@code levels}-level hierarchy.
     */
    public void map(long top, int levels, long iova, long gpa, int leafLevel, int rw) {
        long table = top;
        for (int level = levels; level > leafLevel; level--) {
            long at = table + ((iova >>> (12 + 9 * (level - 1))) & 0x1FF) * 8;
            long e = ram.readU64(at);
            if ((e & 3) == 0) {
                e = table() | 3;
                ram.writeU64(at, e);
            }
            table = e & ~0xFFFL;
        }
        long at = table + ((iova >>> (12 + 9 * (leafLevel - 1))) & 0x1FF) * 8;
        ram.writeU64(at, gpa | (leafLevel > 1 ? 0x80 : 0) | rw);
    }

    /** SRTP with the root table, QI on, then TE, as Linux enables a unit. */
    public void enable() {
        reg(VtdRegister.RTADDR, ROOT);
        reg(VtdRegister.GCMD, IntelIommu.SRTP);
        reg(VtdRegister.IQA, QUEUE);   // QS 0: 256 descriptors
        reg(VtdRegister.GCMD, IntelIommu.QIE);
        reg(VtdRegister.GCMD, IntelIommu.QIE | IntelIommu.TE);
    }

    /** Queues one descriptor and moves the tail. */
    public void submit(long lo, long hi) {
        ram.writeU64(QUEUE + tail * 16L, lo);
        ram.writeU64(QUEUE + tail * 16L + 8, hi);
        tail = (tail + 1) % 256;
        reg(VtdRegister.IQT, (long) tail << 4);
    }

    /** A wait descriptor with status write of {@code data} to STATUS. */
    public void waitFor(int data) {
        submit(5 | 0x20 | (long) data << 32, STATUS);
    }

    @Override
    public void close() {
        ram.close();
    }
}
