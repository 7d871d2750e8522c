package org.jvisor.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * How this package binds libc: downcall handles from the default lookup, errno captured by the
 * linker right after the call ({@code Linker.Option.captureCallState("errno")}, since the JVM
 * itself may call libc before Java code could read errno), into a segment owned by the calling
 * thread so that no call allocates.
 */
final class Libc {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");

    /** strerror's handle, made on first use (an error message) rather than at every start (see Mman). */
    private static final class Strerror {
        static final MethodHandle H = plain("strerror", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    /**
     * Per-thread native scratch: the errno capture and one 64-bit word (an eventfd counter, an
     * ioctl's int result). Freed by the GC with the thread.
     */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private Libc() {
    }

    /** The calling thread's scratch segments. */
    static final class Scratch {
        final MemorySegment capture;
        final MemorySegment word;

        private Scratch() {
            Arena arena = Arena.ofAuto();
            capture = arena.allocate(CAPTURE_LAYOUT);
            word = arena.allocate(ValueLayout.JAVA_LONG);
        }

        /** errno as the linker captured it after the last call that was given {@link #capture}. */
        int errno() {
            return (int) ERRNO.get(capture, 0L);
        }
    }

    static Scratch scratch() {
        return SCRATCH.get();
    }

    /** A call whose errno matters: the handle takes the capture segment as its first argument. */
    static MethodHandle capturing(String name, FunctionDescriptor fd) {
        return handle(name, fd, CAPTURE);
    }

    /** A variadic call (open, ioctl, fcntl): arguments from {@code firstVariadic} on are passed as varargs. */
    static MethodHandle variadic(String name, FunctionDescriptor fd, int firstVariadic) {
        return handle(name, fd, CAPTURE, Linker.Option.firstVariadicArg(firstVariadic));
    }

    /**
     * A call that never blocks, made as a critical call (no thread-state transition, heap segments
     * allowed): a frame goes from a Java byte[] to a non-blocking descriptor without a copy.
     */
    static MethodHandle critical(String name, FunctionDescriptor fd) {
        return handle(name, fd, CAPTURE, Linker.Option.critical(true));
    }

    /** A call that reports failure in its return value, not errno (pthread_*). */
    static MethodHandle plain(String name, FunctionDescriptor fd) {
        return handle(name, fd);
    }

    /** The address of a libc function, for code that hands it to the kernel (a signal handler). */
    static MemorySegment symbol(String name) {
        return LINKER.defaultLookup().find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc lacks " + name));
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd, Linker.Option... options) {
        return LINKER.downcallHandle(symbol(name), fd, options);
    }

    /** libc's text for an errno value ("No such file or directory"). */
    static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) Strerror.H.invokeExact(errno);
            return s.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * A downcall threw: the arguments were wrong for the handle (a heap segment to a non-critical
     * call, a closed arena), which is a bug in the caller, never a failed system call.
     */
    static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed", t);
    }
}
