package org.jvisor.kvm;

import java.lang.foreign.MemorySegment;

import org.jvisor.sys.Fd;
import org.jvisor.sys.Ioctl;
import org.jvisor.sys.Mman;
import org.jvisor.sys.SysException;

/**
 * A file descriptor of /dev/kvm, a VM or a vCPU, with ioctl helpers named by {@link KvmIoctl}.
 * The raw forms allocate nothing (KVM_RUN runs through them).
 */
final class KvmFd implements AutoCloseable {
    private final Fd fd;

    KvmFd(Fd fd) {
        this.fd = fd;
    }

    int fd() {
        return fd.fd();
    }

    /** ioctl with an integer argument; returns the result or -errno. */
    int ioctlRaw(KvmIoctl req, long arg) {
        return Ioctl.raw(fd.fd(), req.request(), arg);
    }

    /** ioctl with a pointer argument; returns the result or -errno. */
    int ioctlRaw(KvmIoctl req, MemorySegment arg) {
        return Ioctl.raw(fd.fd(), req.request(), arg);
    }

    int ioctl(KvmIoctl req, long arg) {
        return check(req, ioctlRaw(req, arg));
    }

    int ioctl(KvmIoctl req, MemorySegment arg) {
        return check(req, ioctlRaw(req, arg));
    }

    /** A failed ioctl's exception: "ioctl(VM, KVM_CREATE_PIT2): EINVAL (Invalid argument)". */
    KvmException failure(KvmIoctl req, int errno) {
        return new KvmException(new SysException("ioctl(" + fd.name() + ", KVM_" + req.name() + ")", errno));
    }

    private int check(KvmIoctl req, int rc) {
        if (rc < 0) {
            throw failure(req, -rc);
        }
        return rc;
    }

    /** Maps {@code size} bytes of this fd (the vCPU's kvm_run). */
    MemorySegment mmap(long size) {
        try {
            return Mman.map(size, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, fd, 0);
        } catch (SysException e) {
            throw new KvmException(e);
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}
