package org.jvisor.kvm;

/**
 * The real-time signal that kicks a vCPU thread out of KVM_RUN (SIGRTMIN + 4, clear of the
 * signals glibc and the JVM use), with its no-op handler installed once per process when this
 * class initializes.
 */
final class KickSignal {
    static final int NUMBER = Libc.sigrtmin() + 4;

    static {
        Libc.installNoopHandler(NUMBER);
    }

    private KickSignal() {
    }
}
