package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

/**
 * What a daemon does to its own process (QEMU's os_daemonize and os_setup_post, os-posix.c):
 * leave the terminal's session, and point stdin, stdout and stderr at /dev/null once start-up
 * messages are no longer wanted.
 */
public final class ProcessSession {
    // downcall handles made on first use, one holder class each (see Mman)
    private static final class Setsid {
        static final MethodHandle H = Libc.capturing("setsid", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class Dup2 {
        static final MethodHandle H = Libc.capturing("dup2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private ProcessSession() {
    }

    /** setsid(2): a new session without a controlling terminal (the caller must not lead a process group). */
    public static void newSession() throws SysException {
        Libc.Scratch s = Libc.scratch();
        int rc;
        try {
            rc = (int) Setsid.H.invokeExact(s.capture);
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
        if (rc < 0) {
            throw new SysException("setsid()", s.errno());
        }
    }

    /** stdin, stdout and stderr on /dev/null (dup2(2)), as a daemon's after start-up. */
    public static void detachStdio() throws SysException {
        Libc.Scratch s = Libc.scratch();
        try (Fd devNull = Fd.open("/dev/null", Fd.O_RDWR)) {
            for (int target = 0; target <= 2; target++) {
                int rc;
                try {
                    rc = (int) Dup2.H.invokeExact(s.capture, devNull.fd(), target);
                } catch (Throwable t) {
                    throw Libc.unexpected(t);
                }
                if (rc < 0) {
                    throw new SysException("dup2(/dev/null, " + target + ")", s.errno());
                }
            }
        }
    }
}
