package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;

/**
 * A terminal's settings (termios(3)) as a value: read with {@link #get}, changed with the
 * {@code with...} methods or {@link #raw()}, applied with {@link #set}. Speeds are carried as the
 * kernel reports them; tcsetattr takes them from the baud bits of cflag.
 *
 * @param cc the control characters, {@link #NCCS} of them (VMIN, VTIME...); copied in and out
 */
public record Termios(int iflag, int oflag, int cflag, int lflag, byte line, byte[] cc, int ispeed, int ospeed) {
    public static final int NCCS = 32;
    /** tcsetattr's {@code when}: now, after output drains, after output drains and input is dropped. */
    public static final int TCSANOW = 0;
    public static final int TCSADRAIN = 1;
    public static final int TCSAFLUSH = 2;

    // c_iflag
    public static final int IGNBRK = 0x001;
    public static final int BRKINT = 0x002;
    public static final int PARMRK = 0x008;
    public static final int ISTRIP = 0x020;
    public static final int INLCR = 0x040;
    public static final int IGNCR = 0x080;
    public static final int ICRNL = 0x100;
    public static final int IXON = 0x400;
    // c_oflag
    public static final int OPOST = 0x1;
    // c_cflag
    public static final int CSIZE = 0x30;
    public static final int CS8 = 0x30;
    public static final int PARENB = 0x100;
    // c_lflag
    public static final int ISIG = 0x1;
    public static final int ICANON = 0x2;
    public static final int ECHO = 0x8;
    public static final int ECHONL = 0x40;
    public static final int IEXTEN = 0x8000;
    // c_cc indices
    public static final int VTIME = 5;
    public static final int VMIN = 6;

    /** glibc's struct termios on x86-64 (60 bytes). */
    static final MemoryLayout TERMIOS = MemoryLayout.structLayout(
        JAVA_INT.withName("c_iflag"), JAVA_INT.withName("c_oflag"), JAVA_INT.withName("c_cflag"),
        JAVA_INT.withName("c_lflag"), JAVA_BYTE.withName("c_line"),
        MemoryLayout.sequenceLayout(NCCS, JAVA_BYTE).withName("c_cc"), MemoryLayout.paddingLayout(3),
        JAVA_INT.withName("c_ispeed"), JAVA_INT.withName("c_ospeed"));
    private static final long CC = TERMIOS.byteOffset(MemoryLayout.PathElement.groupElement("c_cc"));
    private static final long ISPEED = TERMIOS.byteOffset(MemoryLayout.PathElement.groupElement("c_ispeed"));

    // downcall handles made on first use (see Mman): most runs have no terminal to set up
    private static final class Isatty {
        static final MethodHandle H = Libc.capturing("isatty", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class Tcgetattr {
        static final MethodHandle H = Libc.capturing("tcgetattr", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class Tcsetattr {
        static final MethodHandle H = Libc.capturing("tcsetattr",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    }

    public Termios {
        if (cc.length != NCCS) {
            throw new IllegalArgumentException("termios has " + NCCS + " control characters, not " + cc.length);
        }
        cc = cc.clone();
    }

    @Override
    public byte[] cc() {
        return cc.clone();
    }

    /** Whether {@code fd} is a terminal. */
    public static boolean isTerminal(int fd) {
        Libc.Scratch s = Libc.scratch();
        try {
            return (int) Isatty.H.invokeExact(s.capture, fd) == 1;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** tcgetattr(fd). */
    public static Termios get(int fd) throws SysException {
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS);
            int rc = (int) Tcgetattr.H.invokeExact(s.capture, fd, t);
            if (rc != 0) {
                throw new SysException("tcgetattr(fd " + fd + ")", s.errno());
            }
            byte[] cc = new byte[NCCS];
            MemorySegment.copy(t, JAVA_BYTE, CC, cc, 0, NCCS);
            return new Termios(t.get(JAVA_INT, 0), t.get(JAVA_INT, 4), t.get(JAVA_INT, 8), t.get(JAVA_INT, 12),
                t.get(JAVA_BYTE, 16), cc, t.get(JAVA_INT, ISPEED), t.get(JAVA_INT, ISPEED + 4));
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** tcsetattr(fd, when, this). */
    public void set(int fd, int when) throws SysException {
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS);
            t.set(JAVA_INT, 0, iflag);
            t.set(JAVA_INT, 4, oflag);
            t.set(JAVA_INT, 8, cflag);
            t.set(JAVA_INT, 12, lflag);
            t.set(JAVA_BYTE, 16, line);
            MemorySegment.copy(cc, 0, t, JAVA_BYTE, CC, NCCS);
            t.set(JAVA_INT, ISPEED, ispeed);
            t.set(JAVA_INT, ISPEED + 4, ospeed);
            int rc = (int) Tcsetattr.H.invokeExact(s.capture, fd, when, t);
            if (rc != 0) {
                throw new SysException("tcsetattr(fd " + fd + ")", s.errno());
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /**
     * Raw mode as cfmakeraw(3) makes it: no input translation or flow control, no output
     * processing, no echo, no line editing or signal keys, 8-bit characters, reads return as soon
     * as one byte is there.
     */
    public Termios raw() {
        byte[] c = cc.clone();
        c[VMIN] = 1;
        c[VTIME] = 0;
        return new Termios(
            iflag & ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON),
            oflag & ~OPOST,
            (cflag & ~(CSIZE | PARENB)) | CS8,
            lflag & ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN),
            line, c, ispeed, ospeed);
    }

    public Termios withOflag(int oflag) {
        return new Termios(iflag, oflag, cflag, lflag, line, cc, ispeed, ospeed);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Termios t && iflag == t.iflag && oflag == t.oflag && cflag == t.cflag && lflag == t.lflag
            && line == t.line && Arrays.equals(cc, t.cc) && ispeed == t.ispeed && ospeed == t.ospeed;
    }

    @Override
    public int hashCode() {
        return ((iflag * 31 + oflag) * 31 + cflag) * 31 + lflag + Arrays.hashCode(cc);
    }

    @Override
    public String toString() {
        return String.format("Termios[iflag=%#x, oflag=%#x, cflag=%#x, lflag=%#x, line=%d, cc=%s, ispeed=%d, ospeed=%d]",
            iflag, oflag, cflag, lflag, line, Arrays.toString(cc), ispeed, ospeed);
    }
}
