package org.jvisor.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import org.jvisor.memory.DirtyLog;

import static org.jvisor.kvm.KvmStructs.KVM_CLEAR_DIRTY_LOG;
import static org.jvisor.kvm.KvmStructs.KVM_DIRTY_LOG;
import static org.jvisor.kvm.KvmStructs.KVM_ENABLE_CAP;
import static org.jvisor.kvm.KvmStructs.offset;

/**
 * KVM's record of the guest's stores to RAM (Documentation/virt/kvm/api.rst 4.8 KVM_GET_DIRTY_LOG,
 * 4.35 KVM_MEM_LOG_DIRTY_PAGES, 4.117 KVM_CLEAR_DIRTY_LOG), merged into jvisor's
 * {@link DirtyLog} so a live migration reads one log whatever the engine. Logging is turned on
 * per RAM slot (KVM_SET_USER_MEMORY_REGION again with KVM_MEM_LOG_DIRTY_PAGES: KVM write-protects
 * every page and records the first store to each); each collect fetches and clears each slot's
 * bitmap. Where the host has KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 the fetch leaves the bits and
 * KVM_CLEAR_DIRTY_LOG clears just the fetched ones (what QEMU uses: no page is re-protected
 * inside the fetch); otherwise KVM_GET_DIRTY_LOG clears as it fetches. The firmware ROM slot is
 * read-only and never logged. Devices' writes to RAM are jvisor's own and marked by
 * {@link org.jvisor.memory.GuestMemory}, as on every engine.
 */
final class KvmDirtyLog implements DirtyLog.Tracker, AutoCloseable {
    /** KVM_MEM_LOG_DIRTY_PAGES, a kvm_userspace_memory_region flag. */
    static final int MEM_LOG_DIRTY_PAGES = 1;
    /** KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, args[0] of KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2). */
    static final int MANUAL_PROTECT_ENABLE = 1;

    private final KvmFd vm;
    private final List<KvmMemorySlot> slots;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] bitmaps;
    private final long[][] words;
    private final MemorySegment request = arena.allocate(KVM_CLEAR_DIRTY_LOG);
    private final boolean manualProtect;

    /** @param slots the RAM slots (the ROM's is not one) */
    KvmDirtyLog(KvmFd vm, List<KvmMemorySlot> slots) {
        this.vm = vm;
        this.slots = List.copyOf(slots);
        this.bitmaps = new MemorySegment[slots.size()];
        this.words = new long[slots.size()][];
        for (int i = 0; i < bitmaps.length; i++) {
            int n = (int) ((slots.get(i).pages() + 63) >>> 6);  // KVM's bitmap is in longs
            bitmaps[i] = arena.allocate(8L * n, 8);
            words[i] = new long[n];
        }
        this.manualProtect = enableManualProtect();
    }

    /** Probes KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 and enables it; false (the classic fetch) when the host has not. */
    private boolean enableManualProtect() {
        int supported = vm.ioctlRaw(KvmIoctl.CHECK_EXTENSION, KvmSystem.CAP_MANUAL_DIRTY_LOG_PROTECT2);
        if (supported <= 0 || (supported & MANUAL_PROTECT_ENABLE) == 0) {
            return false;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(KVM_ENABLE_CAP);
            cap.set(ValueLayout.JAVA_INT, offset(KVM_ENABLE_CAP, "cap"), KvmSystem.CAP_MANUAL_DIRTY_LOG_PROTECT2);
            cap.set(ValueLayout.JAVA_LONG, offset(KVM_ENABLE_CAP, "args"), MANUAL_PROTECT_ENABLE);
            return vm.ioctlRaw(KvmIoctl.ENABLE_CAP, cap) == 0;
        }
    }

    @Override
    public synchronized void startTracking() {
        for (KvmMemorySlot s : slots) {
            s.register(vm, MEM_LOG_DIRTY_PAGES);
        }
    }

    @Override
    public synchronized void collect(DirtyLog into) {
        for (int i = 0; i < slots.size(); i++) {
            KvmMemorySlot s = slots.get(i);
            MemorySegment bitmap = bitmaps[i];
            bitmap.fill((byte) 0);
            request.fill((byte) 0);
            request.set(ValueLayout.JAVA_INT, offset(KVM_DIRTY_LOG, "slot"), s.slot());
            request.set(ValueLayout.JAVA_LONG, offset(KVM_DIRTY_LOG, "dirty_bitmap"), bitmap.address());
            vm.ioctl(KvmIoctl.GET_DIRTY_LOG, request);
            if (manualProtect) {
                // the bits just fetched, for the whole slot (first_page 0; num_pages may end the slot unaligned)
                request.set(ValueLayout.JAVA_INT, offset(KVM_CLEAR_DIRTY_LOG, "slot"), s.slot());
                request.set(ValueLayout.JAVA_INT, offset(KVM_CLEAR_DIRTY_LOG, "num_pages"), (int) s.pages());
                request.set(ValueLayout.JAVA_LONG, offset(KVM_CLEAR_DIRTY_LOG, "first_page"), 0);
                request.set(ValueLayout.JAVA_LONG, offset(KVM_CLEAR_DIRTY_LOG, "dirty_bitmap"), bitmap.address());
                vm.ioctl(KvmIoctl.CLEAR_DIRTY_LOG, request);
            }
            MemorySegment.copy(bitmap, ValueLayout.JAVA_LONG, 0, words[i], 0, words[i].length);
            into.markPages(s.hostOffset() >>> 12, words[i], s.pages());
        }
    }

    @Override
    public synchronized void stopTracking() {
        for (KvmMemorySlot s : slots) {
            s.register(vm, 0);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
