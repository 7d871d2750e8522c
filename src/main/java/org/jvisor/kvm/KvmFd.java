package org.jvisor.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A file descriptor of /dev/kvm, a VM or a vCPU, with ioctl helpers. The errno capture segment is
 * owned by the fd, so an fd must be used by one thread at a time (the vCPU fd by its own thread).
 */
final class KvmFd implements AutoCloseable {
    private final int fd;
    private final String name;
    private final MemorySegment errno;

    KvmFd(int fd, String name, Arena arena) {
        this.fd = fd;
        this.name = name;
        this.errno = Libc.newErrnoSegment(arena);
    }

    int fd() {
        return fd;
    }

    /** ioctl with an integer argument; returns the result or -errno. */
    int ioctlRaw(KvmIoctl req, long arg) {
        try {
            int rc = (int) Libc.IOCTL_LONG.invokeExact(errno, fd, req.request(), arg);
            return rc < 0 ? -Libc.errno(errno) : rc;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** ioctl with a pointer argument; returns the result or -errno. */
    int ioctlRaw(KvmIoctl req, MemorySegment arg) {
        try {
            int rc = (int) Libc.IOCTL_PTR.invokeExact(errno, fd, req.request(), arg);
            return rc < 0 ? -Libc.errno(errno) : rc;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    int ioctl(KvmIoctl req, long arg) {
        int rc = ioctlRaw(req, arg);
        if (rc < 0) {
            throw new KvmException(name + " KVM_" + req.name(), -rc);
        }
        return rc;
    }

    int ioctl(KvmIoctl req, MemorySegment arg) {
        int rc = ioctlRaw(req, arg);
        if (rc < 0) {
            throw new KvmException(name + " KVM_" + req.name(), -rc);
        }
        return rc;
    }

    /** Maps {@code size} bytes of this fd (the vCPU's kvm_run). */
    MemorySegment mmap(long size) {
        try {
            MemorySegment p = (MemorySegment) Libc.MMAP.invokeExact(errno, MemorySegment.NULL, size,
                Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0L);
            if (p.address() == -1L) {
                throw new KvmException(name + " mmap", Libc.errno(errno));
            }
            return p.reinterpret(size);
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    @Override
    public void close() {
        Libc.close(fd);
    }
}
