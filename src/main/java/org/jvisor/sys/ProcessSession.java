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

    /** The longest process name the kernel keeps (TASK_COMM_LEN 16, with its NUL). */
    public static final int NAME_MAX = 15;

    /**
     * Names the process as ps(1) and /proc/PID/comm show it, QEMU's -name process= (which does
     * prctl(PR_SET_NAME) on its main thread). A JVM's main thread is not the process's first
     * thread, whose name ps shows, so this writes that thread's /proc/self/comm, which any thread
     * of the process may (proc(5)); the kernel keeps the first {@link #NAME_MAX} bytes.
     */
    public static void setName(String name) throws java.io.IOException {
        byte[] bytes = name.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try {
            java.nio.file.Files.write(java.nio.file.Path.of("/proc/self/comm"),
                java.util.Arrays.copyOf(bytes, Math.min(bytes.length, NAME_MAX)));
        } catch (java.io.IOException e) {
            throw new java.io.IOException("naming the process '" + name + "' (/proc/self/comm): " + e.getMessage(), e);
        }
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
