package org.jvisor.sandbox;

/**
 * The system calls {@code -sandbox} can deny, by QEMU's sets (system/qemu-seccomp.c, QEMU 7.2),
 * with their x86-64 numbers (asm/unistd_64.h). Calls QEMU lists that x86-64 does not have
 * (break, ftime, gtty, lock, mpx, prof, profil, stty, ulimit, readdir, bdflush, sgetmask, ssetmask,
 * umount) are left out; umount2, the x86-64 form of umount, is in the default set.
 */
enum DeniedSyscall {
    // default: what a VMM never does
    REBOOT(169, Group.DEFAULT), SWAPON(167, Group.DEFAULT), SWAPOFF(168, Group.DEFAULT), SYSLOG(103, Group.DEFAULT),
    MOUNT(165, Group.DEFAULT), UMOUNT2(166, Group.DEFAULT), KEXEC_LOAD(246, Group.DEFAULT), AFS_SYSCALL(183, Group.DEFAULT),
    GETPMSG(181, Group.DEFAULT), PUTPMSG(182, Group.DEFAULT), SECURITY(185, Group.DEFAULT), TUXCALL(184, Group.DEFAULT),
    VSERVER(236, Group.DEFAULT),
    // obsolete
    _SYSCTL(156, Group.OBSOLETE), CREATE_MODULE(174, Group.OBSOLETE), GET_KERNEL_SYMS(177, Group.OBSOLETE),
    QUERY_MODULE(178, Group.OBSOLETE), SYSFS(139, Group.OBSOLETE), USELIB(134, Group.OBSOLETE), USTAT(136, Group.OBSOLETE),
    // elevateprivileges
    SETUID(105, Group.PRIVILEGED), SETGID(106, Group.PRIVILEGED), SETPGID(109, Group.PRIVILEGED), SETSID(112, Group.PRIVILEGED),
    SETREUID(113, Group.PRIVILEGED), SETREGID(114, Group.PRIVILEGED), SETRESUID(117, Group.PRIVILEGED),
    SETRESGID(119, Group.PRIVILEGED), SETFSUID(122, Group.PRIVILEGED), SETFSGID(123, Group.PRIVILEGED),
    // spawn (clone is filtered by its flags, clone3 answered ENOSYS so that libc falls back to clone)
    FORK(57, Group.SPAWN), VFORK(58, Group.SPAWN), EXECVE(59, Group.SPAWN), EXECVEAT(322, Group.SPAWN), SETNS(308, Group.SPAWN),
    UNSHARE(272, Group.SPAWN), CLONE(56, Group.SPAWN), CLONE3(435, Group.SPAWN),
    // resourcecontrol (refused with EPERM, not fatal; sched_setscheduler only for policies other than SCHED_IDLE)
    SETPRIORITY(141, Group.RESOURCE_CONTROL), SCHED_SETPARAM(142, Group.RESOURCE_CONTROL),
    SCHED_SETSCHEDULER(144, Group.RESOURCE_CONTROL), SCHED_SETAFFINITY(203, Group.RESOURCE_CONTROL);

    /** QEMU's sets: -sandbox on denies DEFAULT and OBSOLETE unless told otherwise, the others when asked. */
    enum Group { DEFAULT, OBSOLETE, PRIVILEGED, SPAWN, RESOURCE_CONTROL }

    final int number;
    final Group group;

    DeniedSyscall(int number, Group group) {
        this.number = number;
        this.group = group;
    }

    /** The name as in asm/unistd_64.h ("__NR_" + name). */
    String linuxName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
