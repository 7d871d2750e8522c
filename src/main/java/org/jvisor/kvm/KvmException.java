package org.jvisor.kvm;

/** An ioctl on /dev/kvm, a VM or a vCPU failed; carries errno. */
public final class KvmException extends RuntimeException {
    private final int errno;

    public KvmException(String operation, int errno) {
        super(operation + " failed: " + Libc.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public KvmException(String message) {
        super(message);
        this.errno = 0;
    }

    public int errno() {
        return errno;
    }
}
