package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Who the process is and where its root is: user lookup (getpwnam_r, so NSS sources count),
 * chroot, and dropping to another user for good. The C library's set*id calls change every thread
 * of the process (glibc's setxid broadcast), which a JVM needs: a raw system call would change only
 * the calling thread.
 */
public final class Credentials {
    /** A user as the password database has it. */
    public record User(String name, int uid, int gid) {
    }

    // downcall handles made on first use, one holder class each (see Mman)
    private static final class GetpwnamR {
        static final MethodHandle H = Libc.plain("getpwnam_r",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    }
    private static final class Chroot {
        static final MethodHandle H = Libc.capturing("chroot", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }
    private static final class Chdir {
        static final MethodHandle H = Libc.capturing("chdir", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }
    private static final class Initgroups {
        static final MethodHandle H = Libc.capturing("initgroups", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Setgroups {
        static final MethodHandle H = Libc.capturing("setgroups", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
    }
    private static final class Setresgid {
        static final MethodHandle H = Libc.capturing("setresgid",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Setresuid {
        static final MethodHandle H = Libc.capturing("setresuid",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Geteuid {
        static final MethodHandle H = Libc.plain("geteuid", FunctionDescriptor.of(JAVA_INT));
    }

    /** struct passwd (pwd.h, x86-64): pw_uid and pw_gid after two pointers. */
    private static final long PW_UID = 16, PW_GID = 20, PASSWD_SIZE = 48;

    private Credentials() {
    }

    /** The effective user id. */
    public static int effectiveUid() {
        try {
            return (int) Geteuid.H.invokeExact();
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /**
     * The user {@code name}, or null when the password database has no such user.
     *
     * @throws SysException if the lookup itself fails
     */
    public static User lookup(String name) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pwd = a.allocate(PASSWD_SIZE, 8);
            MemorySegment result = a.allocate(ADDRESS);
            long size = 16384;
            MemorySegment buf = a.allocate(size);
            int rc = (int) GetpwnamR.H.invokeExact(a.allocateFrom(name), pwd, buf, size, result);
            if (rc != 0) {
                throw new SysException("getpwnam_r(" + name + ")", rc);
            }
            if (result.get(ADDRESS, 0).address() == 0) {
                return null;
            }
            return new User(name, pwd.get(JAVA_INT, PW_UID), pwd.get(JAVA_INT, PW_GID));
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** chroot(2) to {@code dir}, then chdir("/") so that no directory outside stays reachable. */
    public static void changeRoot(String dir) throws SysException {
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            if ((int) Chroot.H.invokeExact(s.capture, a.allocateFrom(dir)) != 0) {
                throw new SysException("chroot(" + dir + ")", s.errno());
            }
            if ((int) Chdir.H.invokeExact(s.capture, a.allocateFrom("/")) != 0) {
                throw new SysException("chdir(/) in " + dir, s.errno());
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /**
     * Becomes {@code user} for good: its groups (initgroups, or only its group for a user given by
     * number), then real, effective and saved group and user ids. Checked afterwards: getting root
     * back must fail.
     */
    public static void become(User user, boolean byName) throws SysException {
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            int rc;
            if (byName) {
                rc = (int) Initgroups.H.invokeExact(s.capture, a.allocateFrom(user.name()), user.gid());
            } else {
                MemorySegment g = a.allocate(JAVA_INT);
                g.set(JAVA_INT, 0, user.gid());
                rc = (int) Setgroups.H.invokeExact(s.capture, 1L, g);
            }
            if (rc != 0) {
                throw new SysException((byName ? "initgroups(" : "setgroups(") + user.name() + ")", s.errno());
            }
            if ((int) Setresgid.H.invokeExact(s.capture, user.gid(), user.gid(), user.gid()) != 0) {
                throw new SysException("setresgid(" + user.gid() + ")", s.errno());
            }
            if ((int) Setresuid.H.invokeExact(s.capture, user.uid(), user.uid(), user.uid()) != 0) {
                throw new SysException("setresuid(" + user.uid() + ")", s.errno());
            }
            if (user.uid() != 0 && (int) Setresuid.H.invokeExact(s.capture, 0, 0, 0) == 0) {
                throw new SysException("setresuid(0) after dropping to " + user.name() + " succeeded", 1);
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }
}
