package org.jvisor.kvm;

/** KVM cannot be used on this host; the message is for the user. */
public final class KvmUnavailableException extends RuntimeException {
    public KvmUnavailableException(String message) {
        super(message);
    }

    public KvmUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
