package org.jvisor.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.jvisor.kvm.KvmStructs.KVM_USERSPACE_MEMORY_REGION;
import static org.jvisor.kvm.KvmStructs.offset;

/**
 * One KVM memory slot: guest-physical [guestAddress, +size) backed by host memory at
 * {@code userAddress}, which is {@code hostOffset} into jvisor's RAM mapping (what the dirty log
 * numbers pages by).
 */
record KvmMemorySlot(int slot, long guestAddress, long size, long userAddress, long hostOffset) {

    /** Pages of 4 KiB in the slot. */
    long pages() {
        return size >>> 12;
    }

    /**
     * KVM_SET_USER_MEMORY_REGION with {@code flags} (api.rst 4.35): creates the slot, or changes
     * only its flags when it exists at the same place (as dirty logging starts and stops).
     */
    void register(KvmFd vm, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment region = a.allocate(KVM_USERSPACE_MEMORY_REGION);
            region.set(ValueLayout.JAVA_INT, offset(KVM_USERSPACE_MEMORY_REGION, "slot"), slot);
            region.set(ValueLayout.JAVA_INT, offset(KVM_USERSPACE_MEMORY_REGION, "flags"), flags);
            region.set(ValueLayout.JAVA_LONG, offset(KVM_USERSPACE_MEMORY_REGION, "guest_phys_addr"), guestAddress);
            region.set(ValueLayout.JAVA_LONG, offset(KVM_USERSPACE_MEMORY_REGION, "memory_size"), size);
            region.set(ValueLayout.JAVA_LONG, offset(KVM_USERSPACE_MEMORY_REGION, "userspace_addr"), userAddress);
            vm.ioctl(KvmIoctl.SET_USER_MEMORY_REGION, region);
        }
    }
}
