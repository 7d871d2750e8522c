package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Signals for a thread that must be kicked out of a blocking system call without running a Java
 * signal handler (design.md, Facts: the vCPU kick): block a signal on the thread, send it with
 * pthread_kill, consume it with sigtimedwait. pthread_* report failure in their return value, the
 * others in errno; both become a {@link SysException}.
 */
public final class Signals {
    private static final int SIG_BLOCK = 0;
    private static final int SIG_UNBLOCK = 1;
    private static final int SA_RESTART = 0x1000_0000;

    /** glibc's x86-64 struct sigaction (for the syscall wrapper): handler, sa_mask, int sa_flags, sa_restorer. */
    private static final MemoryLayout SIGACTION = MemoryLayout.structLayout(
        ADDRESS.withName("sa_handler"), MemoryLayout.sequenceLayout(SigSet.BYTES, JAVA_BYTE).withName("sa_mask"),
        JAVA_INT.withName("sa_flags"), MemoryLayout.paddingLayout(4), ADDRESS.withName("sa_restorer"));

    // downcall handles made on first use, one holder class each (see Mman)
    private static final class Sigrtmin {
        static final MethodHandle H = Libc.plain("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class PthreadSelf {
        static final MethodHandle H = Libc.plain("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    }
    private static final class PthreadKill {
        static final MethodHandle H = Libc.plain("pthread_kill", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    }
    private static final class PthreadSigmask {
        static final MethodHandle H = Libc.plain("pthread_sigmask",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }
    private static final class Sigtimedwait {
        static final MethodHandle H = Libc.capturing("sigtimedwait",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    }
    private static final class SigactionCall {
        static final MethodHandle H = Libc.capturing("sigaction",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }

    /** struct timespec {0, 0}: sigtimedwait polls. Never written. */
    private static final MemorySegment ZERO_TIMEOUT = Arena.global().allocate(16, 8);

    private Signals() {
    }

    /** SIGRTMIN as glibc sets it (it keeps the first real-time signals for itself). */
    public static int sigrtmin() {
        try {
            return (int) Sigrtmin.H.invokeExact();
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** The calling thread's pthread_t. */
    public static long pthreadSelf() {
        try {
            return (long) PthreadSelf.H.invokeExact();
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** Sends {@code signal} to thread {@code thread} (a pthread_t of this process). */
    public static void pthreadKill(long thread, int signal) throws SysException {
        int rc;
        try {
            rc = (int) PthreadKill.H.invokeExact(thread, signal);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc != 0) {
            throw new SysException("pthread_kill(" + signal + ")", rc);
        }
    }

    /** Adds {@code set} to the calling thread's blocked signals. */
    public static void block(SigSet set) throws SysException {
        sigmask(SIG_BLOCK, "SIG_BLOCK", set, MemorySegment.NULL);
    }

    /** Removes {@code set} from the calling thread's blocked signals. */
    public static void unblock(SigSet set) throws SysException {
        sigmask(SIG_UNBLOCK, "SIG_UNBLOCK", set, MemorySegment.NULL);
    }

    /** The calling thread's blocked signals. */
    public static SigSet blocked() throws SysException {
        SigSet out = SigSet.empty();
        sigmask(SIG_BLOCK, "query", null, out.segment);
        return out;
    }

    private static void sigmask(int how, String howName, SigSet set, MemorySegment old) throws SysException {
        MemorySegment newSet = set == null ? MemorySegment.NULL : set.segment;
        int rc;
        try {
            rc = (int) PthreadSigmask.H.invokeExact(how, newSet, old);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc != 0) {
            throw new SysException("pthread_sigmask(" + howName + ", " + set + ")", rc);
        }
    }

    /**
     * Consumes one pending signal of {@code set} without waiting (sigtimedwait with a zero
     * timeout): its number, or 0 when none is pending. The set must be blocked on this thread.
     * Allocates nothing.
     */
    public static int takePending(SigSet set) throws SysException {
        Libc.Scratch s = Libc.scratch();
        int rc;
        try {
            rc = (int) Sigtimedwait.H.invokeExact(s.capture, set.segment, MemorySegment.NULL, ZERO_TIMEOUT);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc > 0) {
            return rc;
        }
        int e = s.errno();
        if (e == Errno.EAGAIN.code() || e == Errno.EINTR.code()) {
            return 0;
        }
        throw new SysException("sigtimedwait(" + set + ")", e);
    }

    /**
     * Gives {@code signal} a handler that does nothing, as QEMU does for its vCPU kick signal, so
     * that a kick which ever reaches a thread not blocking it is harmless instead of killing the
     * process (the default action of a real-time signal). The handler is libc's abs(): pure,
     * async-signal-safe native code; no Java runs in signal context.
     */
    public static void installNoopHandler(int signal) throws SysException {
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment act = a.allocate(SIGACTION);
            act.set(ADDRESS, 0, Libc.symbol("abs"));
            act.set(JAVA_INT, SIGACTION.byteOffset(MemoryLayout.PathElement.groupElement("sa_flags")), SA_RESTART);
            int rc = (int) SigactionCall.H.invokeExact(s.capture, signal, act, MemorySegment.NULL);
            if (rc != 0) {
                throw new SysException("sigaction(" + signal + ")", s.errno());
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }
}
