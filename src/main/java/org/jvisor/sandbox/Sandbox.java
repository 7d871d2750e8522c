package org.jvisor.sandbox;

import org.jvisor.sys.Seccomp;
import org.jvisor.sys.SysException;

/** Puts the whole jvisor process under a {@link SandboxPolicy} for the rest of its life. */
public final class Sandbox {
    private Sandbox() {
    }

    /**
     * Installs {@code policy} on every thread. Call once the machine is built (devices open, files
     * open, threads started) and before the guest runs, as QEMU does before its main loop.
     *
     * @throws SysException if the kernel refuses the filter (no seccomp, or a thread would not take it)
     */
    public static void enter(SandboxPolicy policy) throws SysException {
        int kill = Seccomp.actionAvailable(Seccomp.RET_KILL_PROCESS) ? Seccomp.RET_KILL_PROCESS : Seccomp.RET_TRAP;
        Seccomp.install(policy.program(kill));
    }
}
