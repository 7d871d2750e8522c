package org.jvisor.kvm;

import org.jvisor.sys.SysException;

/** An ioctl on /dev/kvm, a VM or a vCPU (or a call the engine needs around them) failed. */
public final class KvmException extends RuntimeException {
    private final int errno;

    /** The failed system call; its message ("ioctl(VM, KVM_CREATE_PIT2): EINVAL (...)") is this one's. */
    public KvmException(SysException cause) {
        super(cause.getMessage(), cause);
        this.errno = cause.code();
    }

    public KvmException(String message) {
        super(message);
        this.errno = 0;
    }

    /** The errno of the failed call, 0 when the failure was not one. */
    public int errno() {
        return errno;
    }
}
