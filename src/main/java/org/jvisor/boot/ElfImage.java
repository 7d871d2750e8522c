package org.jvisor.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * An ELF64 x86-64 executable, parsed and validated just enough to load it: the header, its PT_LOAD
 * segments and its notes (System V gABI, "ELF-64 Object File Format").
 */
public record ElfImage(long entry, List<Segment> segments, List<Note> notes) {

    public static final int PT_LOAD = 1;
    public static final int PT_NOTE = 4;
    /** Xen/PVH entry-point note (XEN_ELFNOTE_PHYS32_ENTRY), the mark of a PVH-bootable Linux. */
    public static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;

    /** A PT_LOAD program header: {@code fileSize} bytes from the file, zero-filled up to {@code memSize}. */
    public record Segment(long physAddr, long virtAddr, long fileOffset, long fileSize, long memSize, int flags) {
    }

    public record Note(String name, int type, byte[] desc) {
    }

    public static boolean looksLikeElf(byte[] file) {
        return file.length >= 4 && file[0] == 0x7F && file[1] == 'E' && file[2] == 'L' && file[3] == 'F';
    }

    public static ElfImage parse(byte[] file, String what) throws BootException {
        return parseHeaders(file, file.length, what);
    }

    /**
     * As {@link #parse} for a file of {@code fileLength} bytes of which only the first
     * {@code head.length} are at hand (a vmlinux being streamed out of a compressed payload): the
     * ELF header and program header table must lie in {@code head}; segments are checked against
     * {@code fileLength}; notes are read only where they lie in {@code head}.
     */
    public static ElfImage parseHeaders(byte[] head, long fileLength, String what) throws BootException {
        byte[] file = head;
        if (!looksLikeElf(file)) {
            throw new BootException(what + ": not an ELF file");
        }
        if (file.length < 64) {
            throw new BootException(what + ": truncated ELF header (" + file.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        if (file[4] != 2) {
            throw new BootException(what + ": ELF class " + file[4] + " is not ELF64");
        }
        if (file[5] != 1) {
            throw new BootException(what + ": ELF data encoding is not little-endian");
        }
        int type = Short.toUnsignedInt(b.getShort(16));
        int machine = Short.toUnsignedInt(b.getShort(18));
        if (machine != 62) {
            throw new BootException(what + ": ELF machine " + machine + " is not x86-64 (62)");
        }
        if (type != 2) {
            throw new BootException(what + ": ELF type " + type + " is not an executable (ET_EXEC)");
        }
        long entry = b.getLong(24);
        long phoff = b.getLong(32);
        int phentsize = Short.toUnsignedInt(b.getShort(54));
        int phnum = Short.toUnsignedInt(b.getShort(56));
        if (phnum == 0) {
            throw new BootException(what + ": ELF file has no program headers");
        }
        if (phentsize < 56 || phoff < 0 || phoff + (long) phentsize * phnum > fileLength) {
            throw new BootException(what + ": ELF program header table lies outside the file");
        }
        if (phoff + (long) phentsize * phnum > file.length) {
            throw new BootException(String.format("%s: ELF program header table [%#x, %#x) lies beyond the first %d bytes, "
                + "which is all jvisor reads ahead", what, phoff, phoff + (long) phentsize * phnum, file.length));
        }
        List<Segment> segments = new ArrayList<>();
        List<Note> notes = new ArrayList<>();
        for (int i = 0; i < phnum; i++) {
            int p = (int) (phoff + (long) i * phentsize);
            int ptype = b.getInt(p);
            int flags = b.getInt(p + 4);
            long offset = b.getLong(p + 8);
            long vaddr = b.getLong(p + 16);
            long paddr = b.getLong(p + 24);
            long filesz = b.getLong(p + 32);
            long memsz = b.getLong(p + 40);
            if (ptype != PT_LOAD && ptype != PT_NOTE) {
                continue;
            }
            if (offset < 0 || filesz < 0 || offset + filesz > fileLength || offset + filesz < offset) {
                throw new BootException(String.format(
                    "%s: segment %d (offset %#x, size %#x) lies outside the %d-byte file", what, i, offset, filesz, fileLength));
            }
            if (ptype == PT_LOAD) {
                if (memsz < filesz) {
                    throw new BootException(String.format(
                        "%s: segment %d has memory size %#x smaller than file size %#x", what, i, memsz, filesz));
                }
                segments.add(new Segment(paddr, vaddr, offset, filesz, memsz, flags));
            } else if (offset + filesz <= file.length) {
                parseNotes(b, (int) offset, (int) filesz, notes);
            }
        }
        if (segments.isEmpty()) {
            throw new BootException(what + ": ELF file has no loadable (PT_LOAD) segment");
        }
        return new ElfImage(entry, List.copyOf(segments), List.copyOf(notes));
    }

    private static void parseNotes(ByteBuffer b, int offset, int size, List<Note> out) {
        int p = offset;
        int end = offset + size;
        while (p + 12 <= end) {
            int namesz = b.getInt(p);
            int descsz = b.getInt(p + 4);
            int ntype = b.getInt(p + 8);
            int nameStart = p + 12;
            int descStart = nameStart + align4(namesz);
            int next = descStart + align4(descsz);
            if (namesz < 0 || descsz < 0 || next > end || next <= p) {
                return;
            }
            byte[] name = new byte[Math.max(0, namesz - 1)];
            b.get(nameStart, name);
            byte[] desc = new byte[descsz];
            b.get(descStart, desc);
            out.add(new Note(new String(name, java.nio.charset.StandardCharsets.US_ASCII), ntype, desc));
            p = next;
        }
    }

    private static int align4(int n) {
        return (n + 3) & ~3;
    }

    public boolean hasPvhNote() {
        for (Note n : notes) {
            if (n.name().equals("Xen") && n.type() == XEN_ELFNOTE_PHYS32_ENTRY) {
                return true;
            }
        }
        return false;
    }
}
