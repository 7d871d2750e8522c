package org.jvisor.boot.linux;

import java.util.List;

import org.jvisor.boot.ElfImage;
import org.jvisor.memory.GuestMemory;

/**
 * A {@link PayloadSink} that loads a vmlinux while it is being decompressed: each piece of the
 * stream that falls in a PT_LOAD segment's file bytes [p_offset, p_offset + p_filesz) is copied
 * straight to guest RAM at p_paddr plus its offset in the segment (gABI "Program Header"). Every
 * segment is checked against every piece, so the segments' order in the file does not matter.
 * The bytes from p_filesz to p_memsz are zero-filled by {@link #zeroFillBss}.
 */
final class SegmentWriter implements PayloadSink {
    private final GuestMemory ram;
    private final List<ElfImage.Segment> segments;

    SegmentWriter(GuestMemory ram, List<ElfImage.Segment> segments) {
        this.ram = ram;
        this.segments = segments;
    }

    @Override
    public void accept(byte[] b, int off, int len, long position) {
        long pieceEnd = position + len;
        for (int i = 0; i < segments.size(); i++) {
            ElfImage.Segment s = segments.get(i);
            if (s.memSize() == 0) {
                continue;
            }
            long from = Math.max(position, s.fileOffset());
            long to = Math.min(pieceEnd, s.fileOffset() + s.fileSize());
            if (from < to) {
                ram.write(s.physAddr() + (from - s.fileOffset()), b, off + (int) (from - position), (int) (to - from));
            }
        }
    }

    /** Zeroes each segment's p_memsz beyond p_filesz (the kernel's .bss and friends). */
    void zeroFillBss() {
        for (ElfImage.Segment s : segments) {
            if (s.memSize() != 0) {
                ram.fill(s.physAddr() + s.fileSize(), s.memSize() - s.fileSize(), (byte) 0);
            }
        }
    }
}
