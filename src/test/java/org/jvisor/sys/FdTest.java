package org.jvisor.sys;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FdTest {
    @TempDir
    Path dir;

    @Test
    void aFailedOpenNamesTheCallThePathAndTheErrno() {
        String path = dir.resolve("missing.img").toString();
        SysException e = assertThrows(SysException.class, () -> Fd.open(path, Fd.O_RDWR | Fd.O_CLOEXEC));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.is(Errno.ENOENT));
        assertEquals(2, e.code());
        assertEquals("open(" + path + ", O_RDWR|O_CLOEXEC): ENOENT (" + Errno.ENOENT.description() + ")", e.getMessage());
        assertTrue(!Errno.ENOENT.description().isBlank() && !Errno.ENOENT.description().startsWith("Unknown"),
            "libc has a text for it: " + Errno.ENOENT.description());
    }

    @Test
    void errnoNamesAndUnknownNumbers() {
        assertEquals(Errno.EAGAIN, Errno.of(11));
        assertEquals(Errno.EHWPOISON, Errno.of(133));
        assertEquals(Errno.UNKNOWN, Errno.of(0));
        assertEquals(Errno.UNKNOWN, Errno.of(41), "41 is a hole (EWOULDBLOCK is an alias of EAGAIN)");
        assertEquals(Errno.UNKNOWN, Errno.of(9999));
        assertTrue(Errno.describe(9999).startsWith("errno 9999 ("), Errno.describe(9999));
        assertEquals("EACCES (" + Errno.EACCES.description() + ")", Errno.describe(13));
    }

    @Test
    void flagsAreShownAsTheCSourceSpellsThem() {
        assertEquals("O_RDONLY", Fd.OPEN_FLAGS.format(0));
        assertEquals("O_WRONLY|O_CREAT|O_TRUNC", Fd.OPEN_FLAGS.format(Fd.O_WRONLY | Fd.O_CREAT | Fd.O_TRUNC));
        assertEquals("O_RDWR|O_SYNC|O_DIRECT", Fd.OPEN_FLAGS.format(Fd.O_RDWR | Fd.O_SYNC | Fd.O_DIRECT));
        assertEquals("O_RDONLY|O_DSYNC|0x40000000", Fd.OPEN_FLAGS.format(Fd.O_DSYNC | 0x4000_0000));
    }

    @Test
    void preadPwriteFsyncFtruncateAndFallocate() throws IOException {
        Path p = dir.resolve("f.bin");
        try (Fd fd = Fd.open(p.toString(), Fd.O_RDWR | Fd.O_CREAT | Fd.O_CLOEXEC, 0600); Arena a = Arena.ofConfined()) {
            fd.ftruncate(8192);
            MemorySegment buf = a.allocate(100);
            buf.fill((byte) 0x5A);
            assertEquals(100, fd.pwrite(buf, 4000));
            fd.fdatasync();
            fd.fsync();
            byte[] onDisk = Files.readAllBytes(p);
            assertEquals(8192, onDisk.length);
            assertEquals(0x5A, onDisk[4050]);
            assertEquals(0, onDisk[3999]);
            MemorySegment in = a.allocate(200);
            assertEquals(200, fd.pread(in, 3950));
            assertEquals(0, in.get(ValueLayout.JAVA_BYTE, 49));
            assertEquals(0x5A, in.get(ValueLayout.JAVA_BYTE, 50));
            assertEquals(0, fd.pread(in, 9000), "end of file");
            try {
                fd.fallocate(Fd.FALLOC_FL_KEEP_SIZE | Fd.FALLOC_FL_PUNCH_HOLE, 4096, 4096);
                byte[] after = Files.readAllBytes(p);
                assertEquals(0, after[4099], "the punched hole reads as zeros");
                assertEquals(0x5A, after[4095], "data before the hole stays");
                assertEquals(8192, after.length, "FALLOC_FL_KEEP_SIZE");
            } catch (SysException e) {
                assertTrue(e.is(Errno.EOPNOTSUPP), "only a filesystem without holes may refuse: " + e.getMessage());
            }
            SysException e = assertThrows(SysException.class, () -> fd.pwrite(buf, -1));
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(e.getMessage().startsWith("pwrite(" + p + ", offset -1): EINVAL"), e.getMessage());
        }
    }

    @Test
    void readAndWriteThroughAPipeLikeSocketPair() throws IOException {
        try (Sockets.Pair pair = Sockets.socketPair(Sockets.SOCK_STREAM); Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocateFrom("hello");
            assertEquals(6, pair.first().write(out));
            MemorySegment in = a.allocate(16);
            assertEquals(6, pair.second().read(in));
            assertEquals("hello", in.getString(0));
            byte[] heap = "critical".getBytes();
            assertEquals(heap.length, pair.first().writeNow(MemorySegment.ofArray(heap), heap.length));
            byte[] got = new byte[32];
            assertEquals(heap.length, pair.second().readNow(MemorySegment.ofArray(got), got.length));
            assertArrayEquals(heap, java.util.Arrays.copyOf(got, heap.length));
        }
    }

    @Test
    void openFileDescriptionLocksConflictWithinTheProcess() throws IOException {
        Path p = dir.resolve("lock.img");
        Files.write(p, new byte[512]);
        try (Fd first = Fd.open(p.toString(), Fd.O_RDWR | Fd.O_CLOEXEC);
             Fd second = Fd.open(p.toString(), Fd.O_RDONLY | Fd.O_CLOEXEC)) {
            assertTrue(first.tryLock(true));
            assertFalse(second.tryLock(false), "a shared lock conflicts with the exclusive one");
            first.close();
            assertTrue(second.tryLock(false), "closing the description dropped its lock");
        }
    }

    @Test
    void closeIsIdempotentAndIoctlErrorsNameTheRequest() throws IOException {
        Path p = dir.resolve("plain");
        Files.write(p, new byte[1]);
        Fd fd = Fd.open(p.toString(), Fd.O_RDONLY | Fd.O_CLOEXEC);
        SysException e = assertThrows(SysException.class, () -> fd.ioctl("TIOCGPTN", Ioctl.ior('T', 0x30, 4), 0L));
        assertEquals(Errno.ENOTTY, e.errno());
        assertEquals("ioctl(" + p + ", TIOCGPTN): ENOTTY (" + Errno.ENOTTY.description() + ")", e.getMessage());
        fd.close();
        fd.close();
    }

    @Test
    void ioctlRequestsEncodeAsTheKernelMacros() {
        assertEquals(0xAE01L, Ioctl.io(0xAE, 0x01), "KVM_CREATE_VM");
        assertEquals(0x400454caL, Ioctl.iow('T', 202, 4), "TUNSETIFF");
        assertEquals(0x800454cfL, Ioctl.ior('T', 207, 4), "TUNGETFEATURES");
        assertEquals(0xC008AE05L, Ioctl.iowr(0xAE, 0x05, 8), "KVM_GET_SUPPORTED_CPUID");
        assertThrows(IllegalArgumentException.class, () -> Ioctl.iow(0xAE, 1, 1 << 14));
    }
}
