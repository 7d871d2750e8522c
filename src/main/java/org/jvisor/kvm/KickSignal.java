package org.jvisor.kvm;

import org.jvisor.sys.Signals;
import org.jvisor.sys.SysException;

/**
 * The real-time signal that kicks a vCPU thread out of KVM_RUN (SIGRTMIN + 4, clear of the
 * signals glibc and the JVM use), with its no-op handler installed once per process when this
 * class initializes.
 */
final class KickSignal {
    static final int NUMBER = Signals.sigrtmin() + 4;

    static {
        try {
            Signals.installNoopHandler(NUMBER);
        } catch (SysException e) {
            throw new KvmException(e);
        }
    }

    private KickSignal() {
    }
}
