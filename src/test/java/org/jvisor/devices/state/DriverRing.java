package org.jvisor.devices.state;

import org.jvisor.memory.GuestMemory;

/**
 * The driver's side of one split virtqueue in guest RAM (virtio 1.2, 2.7), as a test drives it:
 * the descriptor table at {@code base}, the available ring 4 KiB above, the used ring 8 KiB above.
 * Chain n uses descriptors 4n mod size onwards; everything else is read back from RAM, so a ring
 * can be picked up again in a copy of the memory.
 */
final class DriverRing {
    /** One buffer of a chain. */
    record Buf(long addr, int len, boolean writable) {
    }

    final GuestMemory ram;
    final long desc;
    final long avail;
    final long used;
    final int size;

    DriverRing(GuestMemory ram, long base, int size) {
        this.ram = ram;
        this.desc = base;
        this.avail = base + 0x1000;
        this.used = base + 0x2000;
        this.size = size;
    }

    int availIdx() {
        return ram.readU16(avail + 2) & 0xFFFF;
    }

    /** Makes a chain of up to four buffers available without notifying; returns its head. */
    int offer(Buf... bufs) {
        int idx = availIdx();
        int head = (idx * 4) % size;
        for (int i = 0; i < bufs.length; i++) {
            long d = desc + 16L * (head + i);
            ram.writeU64(d, bufs[i].addr());
            ram.writeU32(d + 8, bufs[i].len());
            int flags = (i + 1 < bufs.length ? 1 : 0) | (bufs[i].writable() ? 2 : 0);
            ram.writeU16(d + 12, (short) flags);
            ram.writeU16(d + 14, (short) (head + i + 1));
        }
        ram.writeU16(avail + 4 + 2L * (idx % size), (short) head);
        ram.writeU16(avail + 2, (short) (idx + 1));
        return head;
    }

    int usedIdx() {
        return ram.readU16(used + 2) & 0xFFFF;
    }

    /** "head:length" of used entry {@code i}. */
    String usedEntry(int i) {
        long e = used + 4 + 8L * (i % size);
        return ram.readU32(e) + ":" + ram.readU32(e + 4);
    }

    /** Every used entry so far, as {@link #usedEntry}. */
    java.util.List<String> usedEntries() {
        java.util.List<String> l = new java.util.ArrayList<>();
        for (int i = 0; i < usedIdx(); i++) {
            l.add(usedEntry(i));
        }
        return l;
    }

    byte[] read(long addr, int len) {
        byte[] b = new byte[len];
        ram.read(addr, b, 0, len);
        return b;
    }
}
