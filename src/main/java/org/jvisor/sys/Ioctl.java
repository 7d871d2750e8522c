package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * ioctl(2), variadic in C (its third argument is {@code ...}), and the request encoding of
 * include/uapi/asm-generic/ioctl.h: direction in bits 30-31, argument size in 16-29, type in 8-15,
 * number in 0-7. The raw forms return the result or -errno and never allocate (the vCPU loop's
 * KVM_RUN); {@link Fd#ioctl} is the form that throws a {@link SysException} naming the request.
 */
public final class Ioctl {
    /** _IOC_NONE, _IOC_WRITE (user to kernel), _IOC_READ (kernel to user). */
    public static final int NONE = 0;
    public static final int WRITE = 1;
    public static final int READ = 2;

    // downcall handles made on first use, one holder class each (see Mman)
    private static final class IoctlLong {
        static final MethodHandle H = Libc.variadic("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), 2);
    }
    private static final class IoctlPtr {
        static final MethodHandle H = Libc.variadic("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), 2);
    }

    private Ioctl() {
    }

    /** _IOC(dir, type, nr, size). */
    public static long request(int dir, int type, int nr, long size) {
        if (size < 0 || size >= 1 << 14) {
            throw new IllegalArgumentException("ioctl argument size " + size + " does not fit _IOC's 14 bits");
        }
        return ((long) dir << 30) | (size << 16) | ((long) (type & 0xFF) << 8) | (nr & 0xFF);
    }

    /** _IO(type, nr): no argument, or an integer passed by value. */
    public static long io(int type, int nr) {
        return request(NONE, type, nr, 0);
    }

    /** _IOR(type, nr, size): the kernel writes {@code size} bytes to the argument. */
    public static long ior(int type, int nr, long size) {
        return request(READ, type, nr, size);
    }

    /** _IOW(type, nr, size): the kernel reads {@code size} bytes from the argument. */
    public static long iow(int type, int nr, long size) {
        return request(WRITE, type, nr, size);
    }

    /** _IOWR(type, nr, size). */
    public static long iowr(int type, int nr, long size) {
        return request(READ | WRITE, type, nr, size);
    }

    /** ioctl(fd, request, arg) with an integer argument: the result, or -errno. */
    public static int raw(int fd, long request, long arg) {
        Libc.Scratch s = Libc.scratch();
        int rc;
        try {
            rc = (int) IoctlLong.H.invokeExact(s.capture, fd, request, arg);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        return rc < 0 ? -s.errno() : rc;
    }

    /** ioctl(fd, request, arg) with a pointer argument: the result, or -errno. */
    public static int raw(int fd, long request, MemorySegment arg) {
        Libc.Scratch s = Libc.scratch();
        int rc;
        try {
            rc = (int) IoctlPtr.H.invokeExact(s.capture, fd, request, arg);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        return rc < 0 ? -s.errno() : rc;
    }
}
