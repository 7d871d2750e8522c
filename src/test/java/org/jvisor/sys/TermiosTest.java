package org.jvisor.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TermiosTest {
    // linux/asm-generic/ioctls.h
    private static final long TIOCGPTN = Ioctl.ior('T', 0x30, 4);
    private static final long TIOCSPTLCK = Ioctl.iow('T', 0x31, 4);

    @TempDir
    Path dir;

    /** A pseudo-terminal pair: the master and the slave (/dev/pts/N), as posix_openpt/unlockpt/ptsname make it. */
    private static Fd[] openPty() throws IOException {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/ptmx")), "skipped: this host has no /dev/ptmx");
        Fd master;
        try {
            master = Fd.open("/dev/ptmx", Fd.O_RDWR | Fd.O_NOCTTY | Fd.O_CLOEXEC);
        } catch (SysException e) {
            Assumptions.abort("skipped: no pseudo-terminal here: " + e.getMessage());
            throw e;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment arg = a.allocate(ValueLayout.JAVA_INT);
            master.ioctl("TIOCSPTLCK", TIOCSPTLCK, arg); // 0: unlock
            master.ioctl("TIOCGPTN", TIOCGPTN, arg);
            Fd slave = Fd.open("/dev/pts/" + arg.get(ValueLayout.JAVA_INT, 0), Fd.O_RDWR | Fd.O_NOCTTY | Fd.O_CLOEXEC);
            return new Fd[] {master, slave};
        } catch (IOException | RuntimeException e) {
            master.close();
            throw e;
        }
    }

    @Test
    void rawModeRoundTripsThroughAPty() throws IOException {
        Fd[] pty = openPty();
        try (Fd master = pty[0]; Fd slave = pty[1]) {
            assertTrue(Termios.isTerminal(slave.fd()));
            Termios cooked = Termios.get(slave.fd());
            assertNotEquals(0, cooked.lflag() & Termios.ICANON, "a new pty is in canonical mode");
            Termios raw = cooked.raw();
            assertEquals(0, raw.lflag() & (Termios.ICANON | Termios.ECHO | Termios.ISIG));
            assertEquals(0, raw.oflag() & Termios.OPOST);
            assertEquals(Termios.CS8, raw.cflag() & Termios.CSIZE);
            assertEquals(1, raw.cc()[Termios.VMIN]);

            raw.set(slave.fd(), Termios.TCSANOW);
            assertEquals(raw, Termios.get(slave.fd()), "the kernel kept every field");
            Termios rawWithOpost = raw.withOflag(raw.oflag() | Termios.OPOST);
            rawWithOpost.set(slave.fd(), Termios.TCSANOW);
            assertEquals(rawWithOpost, Termios.get(slave.fd()));

            // raw mode for real: a byte without a newline reaches the reader at once
            try (Arena a = Arena.ofConfined()) {
                MemorySegment b = a.allocate(1);
                b.set(ValueLayout.JAVA_BYTE, 0, (byte) 3); // Ctrl-C: not a signal in raw mode
                master.write(b);
                b.set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
                assertEquals(1, slave.read(b));
                assertEquals(3, b.get(ValueLayout.JAVA_BYTE, 0));
            }
            cooked.set(slave.fd(), Termios.TCSANOW);
            assertEquals(cooked, Termios.get(slave.fd()));
        }
    }

    @Test
    void aFileIsNotATerminal() throws IOException {
        Path p = dir.resolve("f");
        Files.write(p, new byte[1]);
        try (Fd fd = Fd.open(p.toString(), Fd.O_RDONLY | Fd.O_CLOEXEC)) {
            assertFalse(Termios.isTerminal(fd.fd()));
            SysException e = assertThrows(SysException.class, () -> Termios.get(fd.fd()));
            assertEquals(Errno.ENOTTY, e.errno());
        }
    }
}
