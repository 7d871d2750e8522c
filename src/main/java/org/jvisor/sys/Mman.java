package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Memory mappings (sys/mman.h): mmap, munmap, mprotect, madvise and memfd_create, the calls guest
 * RAM, kvm_run and memory shared with other processes are made of. A mapping is returned as a
 * segment of its full length; {@link #unmap} takes it back.
 */
public final class Mman {
    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int PROT_EXEC = 0x4;

    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_POPULATE = 0x8000;
    public static final int MAP_FIXED_NOREPLACE = 0x100000;

    public static final int MADV_DONTNEED = 4;
    public static final int MADV_REMOVE = 9;
    public static final int MADV_DONTFORK = 10;
    public static final int MADV_MERGEABLE = 12;
    public static final int MADV_HUGEPAGE = 14;
    public static final int MADV_DONTDUMP = 16;

    public static final int MFD_CLOEXEC = 0x1;
    public static final int MFD_ALLOW_SEALING = 0x2;

    private static final FlagNames PROT = new FlagNames("PROT_NONE")
        .bit(PROT_READ, "PROT_READ").bit(PROT_WRITE, "PROT_WRITE").bit(PROT_EXEC, "PROT_EXEC");
    private static final FlagNames MAP = new FlagNames("0")
        .bit(MAP_SHARED, "MAP_SHARED").bit(MAP_PRIVATE, "MAP_PRIVATE").bit(MAP_FIXED, "MAP_FIXED")
        .bit(MAP_ANONYMOUS, "MAP_ANONYMOUS").bit(MAP_NORESERVE, "MAP_NORESERVE").bit(MAP_POPULATE, "MAP_POPULATE")
        .bit(MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE");

    // Each downcall handle is made on first use, by its own holder class: making one costs
    // milliseconds of a VMM's start (the JDK generates a stub per call shape, which the AOT cache
    // does not keep), and most runs never make most of these calls.
    private static final class Mmap {
        static final MethodHandle H = Libc.capturing("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    }
    private static final class Munmap {
        static final MethodHandle H = Libc.capturing("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Mprotect {
        static final MethodHandle H = Libc.capturing("mprotect",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
    private static final class Madvise {
        static final MethodHandle H = Libc.capturing("madvise",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
    private static final class MemfdCreate {
        static final MethodHandle H = Libc.capturing("memfd_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Mincore {
        static final MethodHandle H = Libc.capturing("mincore",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS));
    }
    private static final long PAGE = 4096;
    /** Pages asked about per mincore call: the vector is one byte per page. */
    private static final int MINCORE_CHUNK = 1 << 16;

    private Mman() {
    }

    /** Maps {@code length} bytes of {@code fd} from {@code offset}. */
    public static MemorySegment map(long length, int prot, int flags, Fd fd, long offset) throws SysException {
        return map(0, length, prot, flags, fd.fd(), offset, fd.name());
    }

    /** Maps {@code length} bytes of anonymous memory (MAP_ANONYMOUS is added). */
    public static MemorySegment mapAnonymous(long length, int prot, int flags) throws SysException {
        return map(0, length, prot, flags | MAP_ANONYMOUS, -1, 0, "anonymous");
    }

    /**
     * mmap with an address: a hint, or the place with MAP_FIXED_NOREPLACE (which fails with EEXIST
     * where something is mapped already). Kernels before 4.17 treat that flag as a hint, so check
     * the address of the result.
     */
    public static MemorySegment mapAt(long address, long length, int prot, int flags, int fd, long offset)
            throws SysException {
        return map(address, length, prot, flags, fd, offset, fd < 0 ? "anonymous" : "fd " + fd);
    }

    private static MemorySegment map(long address, long length, int prot, int flags, int fd, long offset, String what)
            throws SysException {
        Libc.Scratch s = Libc.scratch();
        MemorySegment p;
        try {
            p = (MemorySegment) Mmap.H.invokeExact(s.capture, MemorySegment.ofAddress(address), length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (p.address() == -1L) { // MAP_FAILED
            throw new SysException("mmap(" + what + ", " + length + " bytes, " + PROT.format(prot) + ", "
                + MAP.format(flags) + (address != 0 ? String.format(", at %#x", address) : "") + ")", s.errno());
        }
        return p.reinterpret(length);
    }

    /** Unmaps a whole mapping as {@link #map} returned it. */
    public static void unmap(MemorySegment mapping) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int rc;
        try {
            rc = (int) Munmap.H.invokeExact(s.capture, mapping, mapping.byteSize());
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc != 0) {
            throw new SysException(String.format("munmap(%#x, %d bytes)", mapping.address(), mapping.byteSize()), s.errno());
        }
    }

    /** mprotect over the whole of {@code range} (page-aligned). */
    public static void protect(MemorySegment range, int prot) throws SysException {
        int errno = overRange(Mprotect.H, range, prot);
        if (errno != 0) {
            throw new SysException(String.format("mprotect(%#x, %d bytes, %s)", range.address(), range.byteSize(),
                PROT.format(prot)), errno);
        }
    }

    /** madvise over the whole of {@code range} (page-aligned): MADV_DONTNEED, MADV_HUGEPAGE... */
    public static void advise(MemorySegment range, int advice) throws SysException {
        int errno = overRange(Madvise.H, range, advice);
        if (errno != 0) {
            throw new SysException(String.format("madvise(%#x, %d bytes, %d)", range.address(), range.byteSize(), advice),
                errno);
        }
    }

    /** mprotect or madvise: 0, or the errno. */
    private static int overRange(MethodHandle h, MemorySegment range, int arg) {
        Libc.Scratch s = Libc.scratch();
        try {
            return (int) h.invokeExact(s.capture, range, range.byteSize(), arg) == 0 ? 0 : s.errno();
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /**
     * How many bytes of {@code range} (page-aligned) are resident in host RAM now (mincore(2): bit 0
     * of each page's byte). Pages never touched, or given back with MADV_DONTNEED, are not.
     */
    public static long residentBytes(MemorySegment range) throws SysException {
        Libc.Scratch s = Libc.scratch();
        long pages = (range.byteSize() + PAGE - 1) / PAGE;
        long resident = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment vec = a.allocate(Math.min(pages, MINCORE_CHUNK));
            for (long p = 0; p < pages; p += MINCORE_CHUNK) {
                long n = Math.min(MINCORE_CHUNK, pages - p);
                MemorySegment part = range.asSlice(p * PAGE, Math.min(n * PAGE, range.byteSize() - p * PAGE));
                int rc;
                try {
                    rc = (int) Mincore.H.invokeExact(s.capture, part, part.byteSize(), vec);
                } catch (Throwable t) {
                    throw Libc.unexpected(t);
                }
                if (rc != 0) {
                    throw new SysException(String.format("mincore(%#x, %d bytes)", part.address(), part.byteSize()), s.errno());
                }
                for (long i = 0; i < n; i++) {
                    resident += vec.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) & 1;
                }
            }
        }
        return resident * PAGE;
    }

    /**
     * An anonymous file in memory (memfd_create(2)): size it with {@link Fd#ftruncate}, map it
     * MAP_SHARED, and hand the descriptor to another process to share the memory.
     */
    public static Fd memfdCreate(String name, int flags) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int fd;
        try (Arena a = Arena.ofConfined()) {
            fd = (int) MemfdCreate.H.invokeExact(s.capture, a.allocateFrom(name), flags);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (fd < 0) {
            throw new SysException("memfd_create(" + name + ")", s.errno());
        }
        return Fd.adopt(fd, "memfd:" + name);
    }
}
