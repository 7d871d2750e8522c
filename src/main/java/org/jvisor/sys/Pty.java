package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A pseudo-terminal pair (pty(7)): the master jvisor reads and writes, and the slave at
 * /dev/pts/N that a user's terminal program (screen, virsh console) opens. The slave is put in
 * raw mode (cfmakeraw), as QEMU's pty chardev does, so bytes pass unchanged and are not echoed.
 *
 * @param master non-blocking master side
 * @param slave  an open slave descriptor, kept by jvisor so the master never sees a hang-up
 *               while no terminal program has the slave open
 * @param path   the slave's path, /dev/pts/N
 */
public record Pty(Fd master, Fd slave, String path) implements AutoCloseable {
    // asm-generic/ioctls.h: TIOCGPTN _IOR('T', 0x30, unsigned int), TIOCSPTLCK _IOW('T', 0x31, int)
    private static final long TIOCGPTN = Ioctl.ior('T', 0x30, 4);
    private static final long TIOCSPTLCK = Ioctl.iow('T', 0x31, 4);

    /** posix_openpt + unlockpt + ptsname, then the slave opened and made raw. */
    public static Pty open() throws SysException {
        Fd master = Fd.open("/dev/ptmx", Fd.O_RDWR | Fd.O_NOCTTY | Fd.O_CLOEXEC | Fd.O_NONBLOCK);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment arg = a.allocate(JAVA_INT);
            arg.set(JAVA_INT, 0, 0);
            int rc = Ioctl.raw(master.fd(), TIOCSPTLCK, arg);
            if (rc < 0) {
                throw new SysException("ioctl(/dev/ptmx, TIOCSPTLCK)", -rc);
            }
            rc = Ioctl.raw(master.fd(), TIOCGPTN, arg);
            if (rc < 0) {
                throw new SysException("ioctl(/dev/ptmx, TIOCGPTN)", -rc);
            }
            String path = "/dev/pts/" + arg.get(JAVA_INT, 0);
            Fd slave = Fd.open(path, Fd.O_RDWR | Fd.O_NOCTTY | Fd.O_CLOEXEC);
            try {
                Termios.get(slave.fd()).raw().set(slave.fd(), Termios.TCSANOW);
            } catch (SysException e) {
                slave.close();
                throw e;
            }
            return new Pty(master, slave, path);
        } catch (SysException | RuntimeException e) {
            master.close();
            throw e;
        }
    }

    @Override
    public void close() {
        slave.close();
        master.close();
    }
}
