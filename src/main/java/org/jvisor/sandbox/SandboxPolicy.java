package org.jvisor.sandbox;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import org.jvisor.sys.Seccomp;

/**
 * QEMU's {@code -sandbox on[,obsolete=allow|deny][,elevateprivileges=allow|deny|children]
 * [,spawn=allow|deny][,resourcecontrol=allow|deny]}: a seccomp deny list on top of "allow". The
 * default set (reboot, mount, kexec_load, swapon...) is always denied, the obsolete calls unless
 * allowed; privilege changes, process creation and scheduler control only when asked (libvirt asks
 * for all four). A denied call kills the process (SECCOMP_RET_KILL_PROCESS, as QEMU on kernels that
 * have it), except resource control, which fails with EPERM, and clone3, which fails with ENOSYS
 * so that the C library creates threads with clone, whose flags the filter can read.
 *
 * @param denied the groups of calls denied
 */
public record SandboxPolicy(Set<DeniedSyscall.Group> denied) {
    /** sched_setscheduler's policy argument that resource control still allows (sched.h). */
    private static final int SCHED_IDLE = 5;
    private static final int EPERM = 1, ENOSYS = 38;
    /** Flags pthread_create passes to clone (QEMU requires each of them: a thread, not a process). */
    static final int THREAD_FLAGS = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000 | 0x100000 | 0x200000;
    /** Flags that make a process or new namespaces, or trace: CLONE_PIDFD, PTRACE, VFORK, PARENT, NEWNS, UNTRACED, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, IO. */
    static final int SPAWN_FLAGS = 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x20000 | 0x800000 | 0x2000000 | 0x4000000
        | 0x8000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80000000;

    public SandboxPolicy {
        denied = Collections.unmodifiableSet(EnumSet.copyOf(denied));
    }

    /**
     * The policy for a {@code -sandbox} value, or null for "off".
     *
     * @throws IllegalArgumentException with QEMU's wording for a bad value
     */
    public static SandboxPolicy parse(String value) {
        String[] parts = value.split(",", -1);
        String enable = parts[0].startsWith("enable=") ? parts[0].substring(7) : parts[0];
        boolean on = switch (enable) {
            case "on", "yes", "true" -> true;
            case "off", "no", "false" -> false;
            default -> throw new IllegalArgumentException("-sandbox: 'on' or 'off' first, not '" + parts[0] + "'");
        };
        EnumSet<DeniedSyscall.Group> denied = EnumSet.of(DeniedSyscall.Group.DEFAULT, DeniedSyscall.Group.OBSOLETE);
        for (int i = 1; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            String key = eq < 0 ? parts[i] : parts[i].substring(0, eq);
            String v = eq < 0 ? "" : parts[i].substring(eq + 1);
            DeniedSyscall.Group group = switch (key) {
                case "obsolete" -> DeniedSyscall.Group.OBSOLETE;
                case "elevateprivileges" -> DeniedSyscall.Group.PRIVILEGED;
                case "spawn" -> DeniedSyscall.Group.SPAWN;
                case "resourcecontrol" -> DeniedSyscall.Group.RESOURCE_CONTROL;
                default -> throw new IllegalArgumentException("-sandbox: unknown property '" + key
                    + "' (known: obsolete, elevateprivileges, spawn, resourcecontrol)");
            };
            switch (v) {
                case "deny" -> denied.add(group);
                case "children" -> {
                    if (group != DeniedSyscall.Group.PRIVILEGED) {
                        throw new IllegalArgumentException("-sandbox: invalid argument for " + key + ": '" + v + "'");
                    }
                    denied.add(group); // no_new_privs is set whenever a filter is installed
                }
                case "allow" -> denied.remove(group);
                default -> throw new IllegalArgumentException("-sandbox: invalid argument for " + key + ": '" + v
                    + "' (allow or deny)");
            }
        }
        return on ? new SandboxPolicy(denied) : null;
    }

    /** The filter, killing with {@code kill} (SECCOMP_RET_KILL_PROCESS, or TRAP on kernels without it). */
    public List<Seccomp.Insn> program(int kill) {
        Bpf b = new Bpf();
        b.load(Seccomp.DATA_ARCH);
        b.jumpUnlessEquals(Seccomp.AUDIT_ARCH_X86_64, "kill"); // another ABI (i386 through int 0x80): numbers differ
        b.load(Seccomp.DATA_NR);
        b.jumpIfAtLeast(Seccomp.X32_SYSCALL_BIT, "kill");       // the x32 ABI
        for (DeniedSyscall s : DeniedSyscall.values()) {
            if (!denied.contains(s.group)) {
                continue;
            }
            String next = "after-" + s;
            b.load(Seccomp.DATA_NR);
            b.jumpUnlessEquals(s.number, next);
            switch (s) {
                case CLONE -> {
                    b.load(Seccomp.DATA_ARGS);                // flags, low half (all CLONE_* of clone(2) are there)
                    b.and(THREAD_FLAGS);
                    b.jumpUnlessEquals(THREAD_FLAGS, "kill");
                    b.load(Seccomp.DATA_ARGS);
                    b.and(SPAWN_FLAGS);
                    b.jumpUnlessEquals(0, "kill");
                    b.ret(Seccomp.RET_ALLOW);
                }
                case CLONE3 -> b.ret(Seccomp.RET_ERRNO | ENOSYS);
                case SCHED_SETSCHEDULER -> {
                    b.load(Seccomp.DATA_ARGS + 8);            // policy
                    b.jumpUnlessEquals(SCHED_IDLE, "eperm");
                    b.ret(Seccomp.RET_ALLOW);
                }
                default -> b.ret(s.group == DeniedSyscall.Group.RESOURCE_CONTROL ? Seccomp.RET_ERRNO | EPERM : kill);
            }
            b.label(next);
        }
        b.ret(Seccomp.RET_ALLOW);
        b.label("eperm");
        b.ret(Seccomp.RET_ERRNO | EPERM);
        b.label("kill");
        b.ret(kill);
        return b.assemble();
    }

    /** A tiny classic-BPF assembler with forward labels. */
    private static final class Bpf {
        private record Op(short code, int k, String target, boolean jumpIfTrue) {
        }

        private final List<Op> ops = new ArrayList<>();
        private final java.util.Map<String, Integer> labels = new java.util.HashMap<>();

        void load(int offset) {
            ops.add(new Op(Seccomp.LD_W_ABS, offset, null, false));
        }

        void and(int mask) {
            ops.add(new Op(Seccomp.ALU_AND_K, mask, null, false));
        }

        /** If A != k, jump to {@code target}; else go on. */
        void jumpUnlessEquals(int k, String target) {
            ops.add(new Op(Seccomp.JMP_JEQ_K, k, target, false));
        }

        /** If A >= k (unsigned), jump to {@code target}; else go on. */
        void jumpIfAtLeast(int k, String target) {
            ops.add(new Op(Seccomp.JMP_JGE_K, k, target, true));
        }

        void ret(int action) {
            ops.add(new Op(Seccomp.RET_K, action, null, false));
        }

        void label(String name) {
            labels.put(name, ops.size());
        }

        List<Seccomp.Insn> assemble() {
            List<Seccomp.Insn> out = new ArrayList<>();
            for (int i = 0; i < ops.size(); i++) {
                Op op = ops.get(i);
                if (op.target() == null) {
                    out.add(new Seccomp.Insn(op.code(), 0, 0, op.k()));
                    continue;
                }
                int rel = labels.get(op.target()) - (i + 1);
                out.add(op.jumpIfTrue() ? new Seccomp.Insn(op.code(), rel, 0, op.k()) : new Seccomp.Insn(op.code(), 0, rel, op.k()));
            }
            return out;
        }
    }
}
