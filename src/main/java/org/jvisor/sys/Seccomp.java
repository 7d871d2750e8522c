package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * System-call filters (seccomp(2), mode 2): a classic BPF program over {@code struct seccomp_data}
 * that the kernel runs at every system call of every thread of the process. jvisor's filters are
 * deny lists on top of "allow", as QEMU's {@code -sandbox}.
 */
public final class Seccomp {
    /** {@code struct seccomp_data} offsets (linux/seccomp.h): nr, arch, then the six 64-bit arguments. */
    public static final int DATA_NR = 0, DATA_ARCH = 4, DATA_ARGS = 16;
    /** AUDIT_ARCH_X86_64 (linux/audit.h): EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. */
    public static final int AUDIT_ARCH_X86_64 = 0xC000_003E;
    /** System-call numbers with this bit set are the x32 ABI's (asm/unistd.h). */
    public static final int X32_SYSCALL_BIT = 0x4000_0000;

    /** Filter return values (linux/seccomp.h); ERRNO and TRAP carry 16 bits of data. */
    public static final int RET_KILL_PROCESS = 0x8000_0000, RET_KILL_THREAD = 0, RET_TRAP = 0x0003_0000,
        RET_ERRNO = 0x0005_0000, RET_ALLOW = 0x7FFF_0000;

    /** Classic BPF opcodes the filters use (linux/filter.h, linux/bpf_common.h). */
    public static final short LD_W_ABS = 0x20, ALU_AND_K = 0x54, JMP_JEQ_K = 0x15, JMP_JGE_K = 0x35, RET_K = 0x06;

    /** One instruction ({@code struct sock_filter}): jumps are forward, relative to the next instruction. */
    public record Insn(short code, int jt, int jf, int k) {
        public Insn {
            if (jt < 0 || jt > 255 || jf < 0 || jf > 255) {
                throw new IllegalArgumentException("BPF jump out of range: " + jt + "/" + jf);
            }
        }
    }

    private static final int PR_SET_NO_NEW_PRIVS = 38;
    private static final long SYS_SECCOMP = 317;
    private static final int SECCOMP_SET_MODE_FILTER = 1, SECCOMP_GET_ACTION_AVAIL = 2;
    private static final int SECCOMP_FILTER_FLAG_TSYNC = 1;
    /** BPF_MAXINSNS (linux/bpf_common.h). */
    public static final int MAX_INSNS = 4096;

    // downcall handles made on first use, one holder class each (see Mman)
    private static final class Prctl {
        static final MethodHandle H = Libc.variadic("prctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), 1);
    }
    private static final class Syscall3 {
        static final MethodHandle H = Libc.variadic("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS), 1);
    }

    private Seccomp() {
    }

    /** Whether the kernel knows the filter return {@code action} (SECCOMP_GET_ACTION_AVAIL, Linux 4.14). */
    public static boolean actionAvailable(int action) {
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment act = a.allocate(JAVA_INT);
            act.set(JAVA_INT, 0, action);
            return (long) Syscall3.H.invokeExact(s.capture, SYS_SECCOMP, SECCOMP_GET_ACTION_AVAIL, 0, act) == 0;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /**
     * Sets no_new_privs (which lets an unprivileged process install a filter, and which the
     * process cannot take back) and installs {@code program} on every thread of the process
     * (SECCOMP_FILTER_FLAG_TSYNC): a JVM has many threads already. For good: a filter cannot be
     * removed, only more added.
     */
    public static void install(List<Insn> program) throws SysException {
        if (program.isEmpty() || program.size() > MAX_INSNS) {
            throw new IllegalArgumentException("a seccomp filter has 1 to " + MAX_INSNS + " instructions, not " + program.size());
        }
        Libc.Scratch s = Libc.scratch();
        try (Arena a = Arena.ofConfined()) {
            int rc = (int) Prctl.H.invokeExact(s.capture, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L);
            if (rc != 0) {
                throw new SysException("prctl(PR_SET_NO_NEW_PRIVS)", s.errno());
            }
            MemorySegment filter = a.allocate(8L * program.size(), 8);
            for (int i = 0; i < program.size(); i++) {
                Insn in = program.get(i);
                filter.set(JAVA_SHORT, 8L * i, in.code());
                filter.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 8L * i + 2, (byte) in.jt());
                filter.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 8L * i + 3, (byte) in.jf());
                filter.set(JAVA_INT, 8L * i + 4, in.k());
            }
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            MemorySegment prog = a.allocate(16, 8);
            prog.set(JAVA_SHORT, 0, (short) program.size());
            prog.set(ADDRESS, 8, filter);
            long r = (long) Syscall3.H.invokeExact(s.capture, SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, prog);
            if (r > 0) {
                throw new SysException("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): thread " + r + " could not take the filter", 0);
            }
            if (r != 0) {
                throw new SysException("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)", s.errno());
            }
        } catch (SysException | IllegalArgumentException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }
}
