package org.jvisor.cpu;

/** A {@code -cpu} choice this engine cannot give the guest (host without KVM, enforce with a flag missing). */
public final class CpuModelException extends Exception {
    public CpuModelException(String message) {
        super(message);
    }
}
