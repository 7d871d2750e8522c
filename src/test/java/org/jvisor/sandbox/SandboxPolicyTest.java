package org.jvisor.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.jvisor.sys.Seccomp;
import org.jvisor.testing.RequiredTools;

/**
 * The -sandbox filter, run by a classic-BPF interpreter over seccomp_data as the kernel runs it
 * (Documentation/userspace-api/seccomp_filter.rst), so every decision is checked without
 * installing anything in the test JVM. SandboxProcessTest installs it for real.
 */
class SandboxPolicyTest {
    private static final int KILL = Seccomp.RET_KILL_PROCESS;
    /** pthread_create's clone flags (glibc 2.36), and fork's (SIGCHLD only). */
    private static final long PTHREAD = 0x3D0F00, FORK = 17;

    /** Runs {@code prog} on a system call as the kernel would and returns the action. */
    static int run(List<Seccomp.Insn> prog, int arch, int nr, long... args) {
        byte[] data = new byte[64];
        putInt(data, 0, nr);
        putInt(data, 4, arch);
        for (int i = 0; i < args.length; i++) {
            putInt(data, 16 + 8 * i, (int) args[i]);
            putInt(data, 20 + 8 * i, (int) (args[i] >>> 32));
        }
        int a = 0;
        for (int pc = 0; pc < prog.size(); pc++) {
            Seccomp.Insn in = prog.get(pc);
            switch (in.code()) {
                case Seccomp.LD_W_ABS -> a = getInt(data, in.k());
                case Seccomp.ALU_AND_K -> a &= in.k();
                case Seccomp.JMP_JEQ_K -> pc += a == in.k() ? in.jt() : in.jf();
                case Seccomp.JMP_JGE_K -> pc += Integer.compareUnsigned(a, in.k()) >= 0 ? in.jt() : in.jf();
                case Seccomp.RET_K -> {
                    return in.k();
                }
                default -> throw new AssertionError("opcode " + in.code());
            }
        }
        throw new AssertionError("the filter ran off its end");
    }

    private static void putInt(byte[] b, int off, int v) {
        for (int i = 0; i < 4; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }

    private static int getInt(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8 | (b[off + 2] & 0xFF) << 16 | (b[off + 3] & 0xFF) << 24;
    }

    private static int x86(List<Seccomp.Insn> prog, int nr, long... args) {
        return run(prog, Seccomp.AUDIT_ARCH_X86_64, nr, args);
    }

    @Test
    void onDeniesTheDefaultAndObsoleteSetsOnly() {
        List<Seccomp.Insn> p = SandboxPolicy.parse("on").program(KILL);
        assertEquals(KILL, x86(p, 169), "reboot");
        assertEquals(KILL, x86(p, 165), "mount");
        assertEquals(KILL, x86(p, 139), "sysfs (obsolete)");
        assertEquals(Seccomp.RET_ALLOW, x86(p, 0), "read");
        assertEquals(Seccomp.RET_ALLOW, x86(p, 59), "execve: spawn is allowed unless denied");
        assertEquals(Seccomp.RET_ALLOW, x86(p, 105), "setuid: elevateprivileges allowed unless denied");
        assertEquals(Seccomp.RET_ALLOW, x86(p, 56, FORK), "fork through clone");
        assertEquals(Seccomp.RET_ALLOW, x86(SandboxPolicy.parse("on,obsolete=allow").program(KILL), 139));
        assertNull(SandboxPolicy.parse("off"));
    }

    @Test
    void libvirtsPolicyKeepsThreadsButNoProcesses() {
        List<Seccomp.Insn> p = SandboxPolicy.parse("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny")
            .program(KILL);
        assertEquals(Seccomp.RET_ALLOW, x86(p, 56, PTHREAD), "a thread (the JIT's, the GC's, a device's)");
        assertEquals(KILL, x86(p, 56, FORK), "a process");
        assertEquals(KILL, x86(p, 56, PTHREAD | 0x20000000), "a thread in a new network namespace");
        assertEquals(KILL, x86(p, 56, PTHREAD & ~0x10000L), "CLONE_THREAD missing");
        assertEquals(Seccomp.RET_ERRNO | 38, x86(p, 435), "clone3: ENOSYS, so libc uses clone");
        assertEquals(KILL, x86(p, 59), "execve");
        assertEquals(KILL, x86(p, 57), "fork");
        assertEquals(KILL, x86(p, 272), "unshare");
        assertEquals(KILL, x86(p, 105), "setuid");
        assertEquals(Seccomp.RET_ERRNO | 1, x86(p, 203), "sched_setaffinity: EPERM, not fatal");
        assertEquals(Seccomp.RET_ERRNO | 1, x86(p, 144, 0, 1), "sched_setscheduler(SCHED_FIFO)");
        assertEquals(Seccomp.RET_ALLOW, x86(p, 144, 0, 5), "sched_setscheduler(SCHED_IDLE)");
        for (int nr : new int[] {0, 1, 9, 11, 16, 202, 232, 281, 202}) {
            assertEquals(Seccomp.RET_ALLOW, x86(p, nr), "what a VMM does all day: " + nr);
        }
    }

    @Test
    void otherAbisAreKilled() {
        List<Seccomp.Insn> p = SandboxPolicy.parse("on").program(KILL);
        assertEquals(KILL, run(p, 0x4000_0003, 0), "i386 (int 0x80): its numbers differ");
        assertEquals(KILL, x86(p, Seccomp.X32_SYSCALL_BIT | 59), "x32 execve");
    }

    @Test
    void badValuesAreRefusedAsQemuDoes() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SandboxPolicy.parse("maybe")).getMessage()
            .contains("'on' or 'off'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SandboxPolicy.parse("on,spawn=children")).getMessage()
            .contains("invalid argument for spawn"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SandboxPolicy.parse("on,network=deny")).getMessage()
            .contains("unknown property 'network'"));
    }

    @Test
    void numbersAreLinuxs() throws IOException {
        Path h = Path.of("/usr/include/x86_64-linux-gnu/asm/unistd_64.h");
        RequiredTools.assume(Files.exists(h), "linux-libc-dev is not installed (apt-get install linux-libc-dev)");
        String header = Files.readString(h);
        for (DeniedSyscall s : DeniedSyscall.values()) {
            Matcher m = Pattern.compile("#define __NR_" + s.linuxName() + " (\\d+)").matcher(header);
            assertTrue(m.find(), s + " is in the header");
            assertEquals(Integer.parseInt(m.group(1)), s.number, s.linuxName());
        }
    }
}
