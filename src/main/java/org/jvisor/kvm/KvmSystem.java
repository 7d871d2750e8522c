package org.jvisor.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.cpu.CpuidEntry;
import org.jvisor.sys.Errno;
import org.jvisor.sys.Fd;
import org.jvisor.sys.SysException;

import static org.jvisor.kvm.KvmStructs.KVM_CPUID2;
import static org.jvisor.kvm.KvmStructs.KVM_CPUID_ENTRY2;

/** The /dev/kvm system fd: API version, capabilities, supported CPUID, kvm_run size. */
public final class KvmSystem implements AutoCloseable {
    public static final String DEVICE = "/dev/kvm";
    /** KVM_API_VERSION has been 12 since 2.6.22 and is frozen. */
    public static final int API_VERSION = 12;

    // KVM_CAP_* numbers (linux/kvm.h) we depend on
    public static final int CAP_IRQCHIP = 0;
    public static final int CAP_HLT = 1;
    public static final int CAP_USER_MEMORY = 3;
    public static final int CAP_SET_TSS_ADDR = 4;
    public static final int CAP_EXT_CPUID = 7;
    public static final int CAP_NR_VCPUS = 9;
    public static final int CAP_PIT2 = 33;
    public static final int CAP_IRQFD = 32;
    public static final int CAP_IOEVENTFD = 36;
    public static final int CAP_SET_IDENTITY_MAP_ADDR = 37;
    public static final int CAP_IMMEDIATE_EXIT = 136;
    public static final int CAP_MAX_VCPUS = 66;
    public static final int CAP_SIGNAL_MSI = 77;
    /** KVM_GET_DIRTY_LOG leaves the bits set; KVM_CLEAR_DIRTY_LOG clears and re-protects (api.rst 7.18). */
    public static final int CAP_MANUAL_DIRTY_LOG_PROTECT2 = 168;

    private final KvmFd fd;

    private KvmSystem(KvmFd fd) {
        this.fd = fd;
    }

    /**
     * Opens /dev/kvm and checks the API version and the capabilities jvisor needs. Throws
     * {@link KvmUnavailableException} with a message for the user when it cannot be used.
     */
    public static KvmSystem open() {
        Fd fd;
        try {
            fd = Fd.open(DEVICE, Fd.O_RDWR | Fd.O_CLOEXEC);
        } catch (SysException e) {
            String why = switch (e.errno()) {
                case ENOENT -> DEVICE + " does not exist (no KVM on this host)";
                case EACCES, EPERM -> DEVICE + " is not accessible to this user (permission denied; "
                    + "add the user to the 'kvm' group)";
                default -> "cannot use " + DEVICE + ": " + e.getMessage();
            };
            throw new KvmUnavailableException(why, e);
        }
        KvmSystem sys = new KvmSystem(new KvmFd(fd));
        sys.checkRequirements();
        return sys;
    }

    private void checkRequirements() {
        int version = fd.ioctlRaw(KvmIoctl.GET_API_VERSION, 0);
        if (version != API_VERSION) {
            close();
            throw new KvmUnavailableException("KVM API version is " + version + ", jvisor needs " + API_VERSION);
        }
        int[][] required = {
            {CAP_USER_MEMORY, 0}, {CAP_SET_TSS_ADDR, 0}, {CAP_EXT_CPUID, 0}, {CAP_IRQCHIP, 0},
            {CAP_PIT2, 0}, {CAP_IMMEDIATE_EXIT, 0}, {CAP_SET_IDENTITY_MAP_ADDR, 0},
        };
        String[] names = {"USER_MEMORY", "SET_TSS_ADDR", "EXT_CPUID", "IRQCHIP", "PIT2", "IMMEDIATE_EXIT",
            "SET_IDENTITY_MAP_ADDR"};
        for (int i = 0; i < required.length; i++) {
            if (checkExtension(required[i][0]) <= 0) {
                close();
                throw new KvmUnavailableException("this KVM lacks KVM_CAP_" + names[i] + ", which jvisor needs");
            }
        }
    }

    public int checkExtension(int cap) {
        int rc = fd.ioctlRaw(KvmIoctl.CHECK_EXTENSION, cap);
        return Math.max(rc, 0);
    }

    public int vcpuMmapSize() {
        return fd.ioctl(KvmIoctl.GET_VCPU_MMAP_SIZE, 0);
    }

    /** The maximum number of vCPUs per VM. */
    public int maxVcpus() {
        int max = checkExtension(CAP_MAX_VCPUS);
        return max > 0 ? max : Math.max(checkExtension(CAP_NR_VCPUS), 4);
    }

    /** KVM_GET_SUPPORTED_CPUID, retried with a larger buffer while the kernel answers E2BIG. */
    public List<CpuidEntry> supportedCpuid() {
        for (int n = 64; n <= 4096; n *= 2) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(KVM_CPUID2.byteSize() + n * KVM_CPUID_ENTRY2.byteSize(), 8);
                buf.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, n);
                int rc = fd.ioctlRaw(KvmIoctl.GET_SUPPORTED_CPUID, buf);
                if (rc == -Errno.E2BIG.code()) {
                    continue;
                }
                if (rc < 0) {
                    throw fd.failure(KvmIoctl.GET_SUPPORTED_CPUID, -rc);
                }
                int nent = buf.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
                List<CpuidEntry> out = new ArrayList<>(nent);
                for (int i = 0; i < nent; i++) {
                    out.add(CpuidCodec.read(buf, KVM_CPUID2.byteSize() + i * KVM_CPUID_ENTRY2.byteSize()));
                }
                return out;
            }
        }
        throw new KvmException("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
    }

    /**
     * KVM_GET_MSR_INDEX_LIST (api.rst 4.3): the MSRs this KVM saves and restores, asked first
     * with no room (E2BIG says how many), then with the room.
     */
    public java.util.Set<Integer> msrIndexList() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment head = a.allocate(4, 4);
            int rc = fd.ioctlRaw(KvmIoctl.GET_MSR_INDEX_LIST, head);
            if (rc < 0 && rc != -Errno.E2BIG.code()) {
                throw fd.failure(KvmIoctl.GET_MSR_INDEX_LIST, -rc);
            }
            int n = head.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
            MemorySegment list = a.allocate(4L + 4L * n, 4);
            list.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, n);
            fd.ioctl(KvmIoctl.GET_MSR_INDEX_LIST, list);
            int got = list.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
            java.util.Set<Integer> out = new java.util.HashSet<>();
            for (int i = 0; i < got; i++) {
                out.add(list.get(java.lang.foreign.ValueLayout.JAVA_INT, 4L + 4L * i));
            }
            return java.util.Set.copyOf(out);
        }
    }

    /** KVM_CREATE_VM: the new VM's fd. */
    int createVm() {
        return fd.ioctl(KvmIoctl.CREATE_VM, 0);
    }

    @Override
    public void close() {
        fd.close();
    }
}
