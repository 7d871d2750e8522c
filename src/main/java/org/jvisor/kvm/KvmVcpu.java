package org.jvisor.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.cpu.CpuidEntry;
import org.jvisor.cpu.CpuidModel;
import org.jvisor.cpu.ExitReason;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.Vcpu;
import org.jvisor.cpu.VcpuExit;
import org.jvisor.cpu.VcpuState;
import org.jvisor.cpu.X86State;
import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.AddressSpace;
import org.jvisor.sys.Errno;
import org.jvisor.sys.Mman;
import org.jvisor.sys.SigSet;
import org.jvisor.sys.Signals;
import org.jvisor.sys.SysException;

import static org.jvisor.kvm.KvmStructs.KVM_CPUID2;
import static org.jvisor.kvm.KvmStructs.KVM_CPUID_ENTRY2;
import static org.jvisor.kvm.KvmStructs.KVM_FPU;
import static org.jvisor.kvm.KvmStructs.KVM_MSRS;
import static org.jvisor.kvm.KvmStructs.KVM_MSR_ENTRY;
import static org.jvisor.kvm.KvmStructs.KVM_REGS;
import static org.jvisor.kvm.KvmStructs.KVM_SREGS;
import static org.jvisor.kvm.KvmStructs.KVM_SIGNAL_MASK;
import static org.jvisor.kvm.KvmStructs.RUN_EXIT;
import static org.jvisor.kvm.KvmStructs.offset;

/**
 * One KVM vCPU and the loop that runs it. The owning thread calls {@link #run()}; port and MMIO
 * exits go to the bus here and the guest re-enters at once. Nothing on that path allocates.
 *
 * <p>Kicking (see design.md, Facts): the vCPU thread blocks a real-time signal; KVM_SET_SIGNAL_MASK
 * gives KVM_RUN a mask without it, so the signal is deliverable only inside KVM_RUN, where it makes
 * KVM_RUN return EINTR without a handler ever running. {@code immediate_exit} covers a kick that
 * lands between two KVM_RUNs. The pending signal is consumed with sigtimedwait.
 */
final class KvmVcpu implements Vcpu {
    private static final long EXIT_REASON = 8;
    private static final long IMMEDIATE_EXIT = 1;

    private final int index;
    private final KvmFd fd;
    private final AddressSpace io;
    private final AddressSpace mmio;
    private final ExitStats stats;
    private final boolean timed;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment run;
    private final MemorySegment regs = arena.allocate(KVM_REGS);
    private final MemorySegment sregs = arena.allocate(KVM_SREGS);
    private final MemorySegment fpu = arena.allocate(KVM_FPU);
    private final MemorySegment mpState = arena.allocate(4, 4);
    private final MemorySegment msrs;
    private final int kickSignal;
    private final SigSet kickSet;
    private final java.util.function.LongSupplier kvmClock;
    /** The KVM-only state a restore checked and holds until the vCPU's registers are in ({@link #restoreVcpuState}). */
    private final java.util.function.IntFunction<KvmVcpuState> staged;
    /** The MSRs of {@link #SNAPSHOT_MSRS} this KVM has ({@link #snapshotMsrs}). */
    private final int[] savedMsrs;

    private volatile boolean kickRequested;
    private long pthread;
    private boolean threadReady;
    private boolean closed;

    KvmVcpu(int index, KvmFd fd, int runSize, MachineBus bus, ExitStats stats, CpuidModel cpuid,
            java.util.function.LongSupplier kvmClock, java.util.function.IntFunction<KvmVcpuState> staged,
            int[] savedMsrs) {
        this.index = index;
        this.savedMsrs = savedMsrs.clone();
        this.kvmClock = kvmClock;
        this.staged = staged;
        this.fd = fd;
        this.io = bus.io();
        this.mmio = bus.mmio();
        this.stats = stats;
        this.timed = stats.timed();
        this.run = fd.mmap(runSize);
        this.msrs = arena.allocate(KVM_MSRS.byteSize() + KvmStateCodec.MSR_INDICES.length * KVM_MSR_ENTRY.byteSize(), 8);
        this.kickSignal = KickSignal.NUMBER;
        this.kickSet = SigSet.of(kickSignal);
        setCpuid(cpuid);
    }

    private void setCpuid(CpuidModel model) {
        var entries = model.entries();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(KVM_CPUID2.byteSize() + entries.size() * KVM_CPUID_ENTRY2.byteSize(), 8);
            buf.set(ValueLayout.JAVA_INT, 0, entries.size());
            int i = 0;
            for (CpuidEntry e : entries) {
                CpuidCodec.write(buf, KVM_CPUID2.byteSize() + i++ * KVM_CPUID_ENTRY2.byteSize(), e);
            }
            fd.ioctl(KvmIoctl.SET_CPUID2, buf);
        }
    }

    @Override
    public int index() {
        return index;
    }

    /**
     * On the owning thread, once: block the kick signal here and tell KVM to unblock it during
     * KVM_RUN. Done lazily because the vCPU is created on another thread than the one that runs it.
     */
    private void prepareThread() {
        long self;
        try {
            Signals.block(kickSet);
            // The kernel's sigset is 64 bits on x86-64: KVM_RUN runs with this thread's mask minus the kick.
            long mask = Signals.blocked().remove(kickSignal).kernelMask();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment sigmask = a.allocate(KVM_SIGNAL_MASK.byteSize() + 8, 8);
                sigmask.set(ValueLayout.JAVA_INT, offset(KVM_SIGNAL_MASK, "len"), 8);
                sigmask.set(ValueLayout.JAVA_LONG_UNALIGNED, KVM_SIGNAL_MASK.byteSize(), mask);
                fd.ioctl(KvmIoctl.SET_SIGNAL_MASK, sigmask);
            }
            self = Signals.pthreadSelf();
        } catch (SysException e) {
            throw new KvmException(e);
        }
        // Published only once the signal is blocked here: a kick before that must not kill us.
        synchronized (this) {
            pthread = self;
        }
        threadReady = true;
    }

    /**
     * The owning thread is about to end: after this no kick may signal it, because a dead
     * thread's pthread_t can be reused by a thread that does not block the signal.
     */
    @Override
    public synchronized void threadExiting() {
        pthread = 0;
        threadReady = false;
    }

    /** Consumes a pending kick signal, if any, so it cannot interrupt the next KVM_RUN. */
    private void drainKickSignal() {
        try {
            while (Signals.takePending(kickSet) > 0) {
                // consumed one
            }
        } catch (SysException e) {
            throw new KvmException(e);
        }
    }

    @Override
    public synchronized void kick() {
        if (closed) {
            kickRequested = true;
            return;
        }
        // immediate_exit first, kickRequested (volatile) after: the run loop takes a kick by
        // clearing both, and must find immediate_exit already set when it sees kickRequested.
        // Set the other way round, a kick taken between the two stores left immediate_exit set
        // with no kick pending, every KVM_RUN returned at once and the guest never ran again (a
        // CI run's KvmDirtyLogTest stalled so after a resume).
        run.set(ValueLayout.JAVA_BYTE, IMMEDIATE_EXIT, (byte) 1);
        kickRequested = true;
        long t = pthread;
        if (t != 0) {
            try {
                Signals.pthreadKill(t, kickSignal);
            } catch (SysException e) {
                throw new KvmException(e);
            }
        }
    }

    @Override
    public VcpuExit run() {
        if (!threadReady) {
            prepareThread();
        }
        while (true) {
            if (kickRequested) {
                kickRequested = false;
                run.set(ValueLayout.JAVA_BYTE, IMMEDIATE_EXIT, (byte) 0);
                drainKickSignal();
                return new VcpuExit.Kicked();
            }
            int rc = fd.ioctlRaw(KvmIoctl.RUN, 0);
            long exitTime = timed ? System.nanoTime() : 0;
            if (rc < 0) {
                if (rc == -Errno.EINTR.code() || rc == -Errno.EAGAIN.code()) {
                    stats.count(ExitReason.INTR);
                    if (!kickRequested) {
                        drainKickSignal();
                    }
                    continue;
                }
                return failure(fd.failure(KvmIoctl.RUN, -rc).getMessage());
            }
            int code = run.get(ValueLayout.JAVA_INT, EXIT_REASON);
            KvmExitReason reason = KvmExitReason.of(code);
            if (reason == null) {
                return failure("unknown KVM exit reason " + code);
            }
            switch (reason) {
                case IO -> {
                    ExitReason r = handleIo(exitTime);
                    if (timed) {
                        stats.record(r, System.nanoTime() - exitTime);
                    } else {
                        stats.count(r);
                    }
                }
                case MMIO -> {
                    ExitReason r = handleMmio(exitTime);
                    if (timed) {
                        stats.record(r, System.nanoTime() - exitTime);
                    } else {
                        stats.count(r);
                    }
                }
                case INTR -> stats.count(ExitReason.INTR);
                case IRQ_WINDOW_OPEN -> stats.count(ExitReason.IRQ_WINDOW);
                case HLT -> {
                    stats.count(ExitReason.HLT);
                    return new VcpuExit.Halted();
                }
                case SHUTDOWN -> {
                    stats.count(ExitReason.SHUTDOWN);
                    return new VcpuExit.TripleFault("KVM_EXIT_SHUTDOWN at RIP " + hexRip());
                }
                case SYSTEM_EVENT -> {
                    stats.count(ExitReason.SYSTEM_EVENT);
                    int type = run.get(ValueLayout.JAVA_INT, RUN_EXIT);
                    return new VcpuExit.SystemEvent(switch (type) {
                        case KvmExitReason.SYSTEM_EVENT_RESET -> VcpuExit.SystemEvent.Kind.RESET;
                        case KvmExitReason.SYSTEM_EVENT_CRASH -> VcpuExit.SystemEvent.Kind.CRASH;
                        default -> VcpuExit.SystemEvent.Kind.SHUTDOWN;
                    });
                }
                case FAIL_ENTRY -> {
                    long hw = run.get(ValueLayout.JAVA_LONG, RUN_EXIT);
                    return failure(String.format(
                        "KVM_EXIT_FAIL_ENTRY: the CPU refused to enter the guest (hardware_entry_failure_reason %#x)", hw));
                }
                case INTERNAL_ERROR -> {
                    int sub = run.get(ValueLayout.JAVA_INT, RUN_EXIT);
                    int ndata = run.get(ValueLayout.JAVA_INT, RUN_EXIT + 4);
                    StringBuilder data = new StringBuilder();
                    for (int i = 0; i < Math.min(ndata, 16); i++) {
                        data.append(String.format(" %#x", run.get(ValueLayout.JAVA_LONG, RUN_EXIT + 8 + i * 8L)));
                    }
                    return failure("KVM_EXIT_INTERNAL_ERROR: " + KvmExitReason.internalSuberror(sub)
                        + (ndata > 0 ? "; data:" + data : ""));
                }
                default -> {
                    return failure("unhandled KVM exit " + reason + " (" + code + ")");
                }
            }
        }
    }

    private ExitReason handleIo(long t0) {
        int direction = run.get(ValueLayout.JAVA_BYTE, RUN_EXIT);
        int size = run.get(ValueLayout.JAVA_BYTE, RUN_EXIT + 1);
        int port = Short.toUnsignedInt(run.get(ValueLayout.JAVA_SHORT, RUN_EXIT + 2));
        int count = run.get(ValueLayout.JAVA_INT, RUN_EXIT + 4);
        long data = run.get(ValueLayout.JAVA_LONG, RUN_EXIT + 8);
        // The region is looked up again only to charge the handling time to the device.
        AddressSpace.Region region = timed ? io.find(port) : null;
        boolean out = direction == KvmExitReason.IO_OUT;
        for (int i = 0; i < count; i++) {
            long at = data + (long) i * size;
            if (out) {
                long v = switch (size) {
                    case 1 -> Byte.toUnsignedLong(run.get(ValueLayout.JAVA_BYTE, at));
                    case 2 -> Short.toUnsignedLong(run.get(ValueLayout.JAVA_SHORT_UNALIGNED, at));
                    default -> Integer.toUnsignedLong(run.get(ValueLayout.JAVA_INT_UNALIGNED, at));
                };
                io.write(port, size, v);
            } else {
                long v = io.read(port, size);
                switch (size) {
                    case 1 -> run.set(ValueLayout.JAVA_BYTE, at, (byte) v);
                    case 2 -> run.set(ValueLayout.JAVA_SHORT_UNALIGNED, at, (short) v);
                    default -> run.set(ValueLayout.JAVA_INT_UNALIGNED, at, (int) v);
                }
            }
        }
        if (region != null) {
            region.addNanos(System.nanoTime() - t0);
        }
        return out ? ExitReason.IO_OUT : ExitReason.IO_IN;
    }

    private ExitReason handleMmio(long t0) {
        long addr = run.get(ValueLayout.JAVA_LONG, RUN_EXIT);
        int len = run.get(ValueLayout.JAVA_INT, RUN_EXIT + 16);
        boolean write = run.get(ValueLayout.JAVA_BYTE, RUN_EXIT + 20) != 0;
        long dataAt = RUN_EXIT + 8;
        AddressSpace.Region region = timed ? mmio.find(addr) : null;
        if (write) {
            long v = run.get(ValueLayout.JAVA_LONG_UNALIGNED, dataAt);
            if (len < 8) {
                v &= (1L << (len * 8)) - 1;
            }
            mmio.write(addr, len, v);
        } else {
            long v = mmio.read(addr, len);
            for (int i = 0; i < len; i++) {
                run.set(ValueLayout.JAVA_BYTE, dataAt + i, (byte) (v >>> (8 * i)));
            }
        }
        if (region != null) {
            region.addNanos(System.nanoTime() - t0);
        }
        return write ? ExitReason.MMIO_WRITE : ExitReason.MMIO_READ;
    }

    private String hexRip() {
        fd.ioctlRaw(KvmIoctl.GET_REGS, regs);
        return String.format("%#x", regs.get(ValueLayout.JAVA_LONG, 16 * 8L));
    }

    private VcpuExit failure(String description) {
        X86State st = new X86State();
        try {
            saveState(st);
        } catch (RuntimeException e) {
            description += " (registers unavailable: " + e.getMessage() + ")";
        }
        return new VcpuExit.Failed(description, st);
    }

    @Override
    public void saveState(X86State into) {
        fd.ioctl(KvmIoctl.GET_REGS, regs);
        KvmStateCodec.readRegs(regs, into);
        fd.ioctl(KvmIoctl.GET_SREGS, sregs);
        KvmStateCodec.readSregs(sregs, into);
        fd.ioctl(KvmIoctl.GET_FPU, fpu);
        KvmStateCodec.readFpu(fpu, into);
        prepareMsrList(null);
        int n = fd.ioctl(KvmIoctl.GET_MSRS, msrs);
        long[] values = new long[KvmStateCodec.MSR_INDICES.length];
        for (int i = 0; i < n; i++) {
            values[i] = msrs.get(ValueLayout.JAVA_LONG, KVM_MSRS.byteSize() + i * KVM_MSR_ENTRY.byteSize() + 8);
        }
        KvmStateCodec.applyMsrValues(values, into);
    }

    @Override
    public void loadState(X86State from) {
        KvmStateCodec.writeSregs(from, sregs);
        fd.ioctl(KvmIoctl.SET_SREGS, sregs);
        KvmStateCodec.writeRegs(from, regs);
        fd.ioctl(KvmIoctl.SET_REGS, regs);
        KvmStateCodec.writeFpu(from, fpu);
        fd.ioctl(KvmIoctl.SET_FPU, fpu);
        prepareMsrList(KvmStateCodec.msrValues(from));
        int n = fd.ioctl(KvmIoctl.SET_MSRS, msrs);
        if (n != KvmStateCodec.MSR_INDICES.length) {
            throw new KvmException(String.format("KVM_SET_MSRS accepted %d of %d MSRs; MSR %#x was refused",
                n, KvmStateCodec.MSR_INDICES.length, KvmStateCodec.MSR_INDICES[n]));
        }
    }

    // ---- snapshots ------------------------------------------------------------------------

    /**
     * MSRs a snapshot may carry beside those {@link X86State} holds, ascending (KVM_SET_MSRS
     * writes them in order): the TSC first (host-initiated writes set the guest TSC, KVM
     * recomputes the offset), MISC_ENABLE, the MTRRs (8 variable pairs, the 11 fixed-range MSRs,
     * the default type: what KVM emulates and tcg keeps, SDM vol. 3, 11.11; MTRRcap is read-only
     * and follows from CPUID), TSC_DEADLINE, and KVM's paravirtual MSRs: kvmclock's wall clock
     * and system time, async page faults, steal time, PV EOI (Documentation/virt/kvm/x86/msr.rst).
     * A VM saves those of them this KVM has ({@link #snapshotMsrs(java.util.Set)}).
     */
    static final int[] SNAPSHOT_MSRS = {VcpuState.MSR_TSC, VcpuState.MSR_MISC_ENABLE,
        0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, 0x208, 0x209, 0x20A, 0x20B, 0x20C, 0x20D, 0x20E, 0x20F,
        0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F, VcpuState.MSR_MTRR_DEF_TYPE,
        VcpuState.MSR_TSC_DEADLINE, VcpuState.MSR_KVM_WALL_CLOCK_NEW, VcpuState.MSR_KVM_SYSTEM_TIME_NEW,
        VcpuState.MSR_KVM_ASYNC_PF_EN, VcpuState.MSR_KVM_STEAL_TIME, VcpuState.MSR_KVM_PV_EOI_EN};

    /**
     * The MSRs of {@link #SNAPSHOT_MSRS} a VM on this KVM saves: those KVM_GET_MSR_INDEX_LIST
     * lists ({@code listed}), and the MTRRs, which KVM emulates for every guest whose CPUID has
     * MTRR but which the list does not name (QEMU saves them by CPUID too).
     */
    static int[] snapshotMsrs(java.util.Set<Integer> listed) {
        return java.util.Arrays.stream(SNAPSHOT_MSRS)
            .filter(m -> listed.contains(m) || (m >= 0x200 && m <= VcpuState.MSR_MTRR_DEF_TYPE))
            .toArray();
    }

    /** KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR: fields KVM_SET_VCPU_EVENTS must take from us. */
    private static final int EVENTS_SET_FLAGS = 0x3;

    /**
     * The vCPU as an engine-neutral record: registers, segments, control registers and MSRs from
     * KVM_GET_REGS/SREGS/MSRS, x87/SSE from KVM_GET_XSAVE's legacy region, XCR0 from
     * KVM_GET_XCRS, the debug registers, MP state and
     * events translated from KVM's structs, kvmclock from KVM_GET_CLOCK. What has no neutral
     * meaning (the XSAVE image, the LAPIC page) is in {@link #saveKvmState()}'s record.
     */
    @Override
    public VcpuState saveVcpuState() {
        X86State st = new X86State();
        saveState(st);
        KvmVcpuState k = saveKvmState();
        KvmStateCodec.readFxsave(MemorySegment.ofArray(k.xsave().toArray()), st);
        Bytes dr = k.debugRegisters();
        st.dr[0] = KvmVcpuState.u64(dr, 0);
        st.dr[1] = KvmVcpuState.u64(dr, 8);
        st.dr[2] = KvmVcpuState.u64(dr, 16);
        st.dr[3] = KvmVcpuState.u64(dr, 24);
        st.dr[6] = KvmVcpuState.u64(dr, 32);
        st.dr[7] = KvmVcpuState.u64(dr, 40);
        return VcpuState.of(st, snapshotMsrs(), xcr0(k.xcrs()), mpState(k.mpState()), events(k.events()),
            kvmClock.getAsLong());
    }

    /** The MSRs of {@link #savedMsrs} this KVM reads, one KVM_GET_MSRS each (a save, not a hot path). */
    private List<VcpuState.Msr> snapshotMsrs() {
        List<VcpuState.Msr> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(KVM_MSRS.byteSize() + KVM_MSR_ENTRY.byteSize(), 8);
            for (int idx : savedMsrs) {
                one.fill((byte) 0);
                one.set(ValueLayout.JAVA_INT, 0, 1);
                one.set(ValueLayout.JAVA_INT, KVM_MSRS.byteSize(), idx);
                if (fd.ioctl(KvmIoctl.GET_MSRS, one) == 1) {
                    out.add(new VcpuState.Msr(idx, one.get(ValueLayout.JAVA_LONG, KVM_MSRS.byteSize() + 8)));
                }
            }
        }
        return out;
    }

    private static long xcr0(Bytes xcrs) {
        int n = KvmVcpuState.u32(xcrs, KvmVcpuState.XCRS_NR);
        for (int i = 0; i < Math.min(n, KvmVcpuState.MAX_XCRS); i++) {
            if (KvmVcpuState.u32(xcrs, 8 + 16 * i) == 0) {
                return KvmVcpuState.u64(xcrs, 8 + 16 * i + 8);
            }
        }
        return 1;
    }

    private static VcpuState.MpState mpState(int kvm) {
        return switch (kvm) {
            case MP_STATE_RUNNABLE -> VcpuState.MpState.RUNNABLE;
            case MP_STATE_HALTED -> VcpuState.MpState.HALTED;
            default -> VcpuState.MpState.INIT_RECEIVED;   // UNINITIALIZED, INIT_RECEIVED, SIPI_RECEIVED: an AP not yet started
        };
    }

    /**
     * KVM's events as the engine-neutral record. A software interrupt (INT n) KVM re-queued
     * after an exit during its delivery is left out: RIP still points at the INT instruction
     * (KVM re-injects it with that instruction's length), so the restoring engine runs
     * the instruction again, which is that delivery.
     */
    private static VcpuState.Events events(Bytes ev) {
        boolean exception = ev.get(KvmVcpuState.EV_EXCEPTION_INJECTED) != 0 || ev.get(KvmVcpuState.EV_EXCEPTION_PENDING) != 0;
        return new VcpuState.Events(ev.get(KvmVcpuState.EV_INTERRUPT_SHADOW) != 0,
            ev.get(KvmVcpuState.EV_NMI_MASKED) != 0,
            ev.get(KvmVcpuState.EV_NMI_PENDING) != 0 || ev.get(KvmVcpuState.EV_NMI_INJECTED) != 0,
            exception ? ev.get(KvmVcpuState.EV_EXCEPTION_NR) & 0xFF : -1,
            exception && ev.get(KvmVcpuState.EV_EXCEPTION_HAS_ERROR) != 0 ? KvmVcpuState.u32(ev, KvmVcpuState.EV_ERROR_CODE) : -1,
            ev.get(KvmVcpuState.EV_INTERRUPT_INJECTED) != 0 && ev.get(KvmVcpuState.EV_INTERRUPT_SOFT) == 0
                ? ev.get(KvmVcpuState.EV_INTERRUPT_NR) & 0xFF : -1);
    }

    /**
     * KVM's own structs for this vCPU: MP state, XSAVE, XCRS, debug registers, events and the
     * in-kernel LAPIC. Any thread, with the vCPU out of KVM_RUN (the machine paused).
     */
    KvmVcpuState saveKvmState() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mp = a.allocate(4, 4);
            fd.ioctl(KvmIoctl.GET_MP_STATE, mp);
            return new KvmVcpuState(mp.get(ValueLayout.JAVA_INT, 0),
                get(a, KvmIoctl.GET_XSAVE, KvmStructs.KVM_XSAVE_BYTES),
                get(a, KvmIoctl.GET_XCRS, KvmStructs.KVM_XCRS_BYTES),
                get(a, KvmIoctl.GET_DEBUGREGS, KvmStructs.KVM_DEBUGREGS_BYTES),
                get(a, KvmIoctl.GET_VCPU_EVENTS, KvmStructs.KVM_VCPU_EVENTS_BYTES),
                get(a, KvmIoctl.GET_LAPIC, KvmStructs.KVM_LAPIC_STATE_BYTES));
        }
    }

    private Bytes get(Arena a, KvmIoctl req, long size) {
        MemorySegment s = a.allocate(size, 8);
        fd.ioctl(req, s);
        return Bytes.copyOf(s.toArray(ValueLayout.JAVA_BYTE));
    }

    private void put(Arena a, KvmIoctl req, byte[] data) {
        MemorySegment s = a.allocate(data.length, 8);
        MemorySegment.copy(data, 0, s, ValueLayout.JAVA_BYTE, 0, data.length);
        fd.ioctl(req, s);
    }

    /**
     * Puts a saved vCPU back in QEMU's order (kvm_arch_put_registers): sregs, regs, FPU and the
     * MSRs X86State holds, then XSAVE and XCRS, the LAPIC page, the other MSRs (TSC_DEADLINE
     * only counts once the LAPIC's timer is in TSC-deadline mode), MP state, the events (after
     * KVM_SET_REGS, which drops a pending exception) and the debug registers. Everything is
     * checked before the first ioctl; a refusal by KVM itself is reported, naming the vCPU.
     */
    @Override
    public void restoreVcpuState(VcpuState st) throws DeviceStateException {
        String me = "vCPU " + index;
        st.checkShape();
        KvmVcpuState k = staged.apply(index);
        if (k == null) {
            throw new DeviceStateException(me + ": the snapshot holds no kvm-vcpu" + index
                + " record (XSAVE, LAPIC, events) to restore on kvm");
        }
        k.check(me);
        List<VcpuState.Msr> other = new ArrayList<>();
        for (VcpuState.Msr m : st.msrs()) {
            if (contains(SNAPSHOT_MSRS, m.index())) {
                if (!contains(savedMsrs, m.index())) {
                    if (m.value() != 0) {   // saved by a KVM that has it: this one cannot take it back
                        throw new DeviceStateException(String.format("%s: MSR %#x = %#x is not one this KVM saves and"
                            + " restores (KVM_GET_MSR_INDEX_LIST)", me, m.index(), m.value()));
                    }
                } else if (m.value() != 0 || !isKvmPv(m.index())) {
                    other.add(m);
                }
            } else if (!contains(KvmStateCodec.MSR_INDICES, m.index()) && m.index() != VcpuState.MSR_APIC_BASE) {
                throw new DeviceStateException(String.format("%s: MSR %#x is not one jvisor's kvm engine restores", me,
                    m.index()));
            }
        }
        X86State x = new X86State();
        st.into(x);
        byte[] events = k.events().toArray();
        events[KvmVcpuState.EV_FLAGS] |= EVENTS_SET_FLAGS;
        try (Arena a = Arena.ofConfined()) {
            loadState(x);
            put(a, KvmIoctl.SET_XSAVE, k.xsave().toArray());
            put(a, KvmIoctl.SET_XCRS, k.xcrs().toArray());
            put(a, KvmIoctl.SET_LAPIC, k.lapic().toArray());
            if (!other.isEmpty()) {
                MemorySegment list = a.allocate(KVM_MSRS.byteSize() + other.size() * KVM_MSR_ENTRY.byteSize(), 8);
                list.set(ValueLayout.JAVA_INT, 0, other.size());
                for (int i = 0; i < other.size(); i++) {
                    long at = KVM_MSRS.byteSize() + i * KVM_MSR_ENTRY.byteSize();
                    list.set(ValueLayout.JAVA_INT, at, other.get(i).index());
                    list.set(ValueLayout.JAVA_LONG, at + 8, other.get(i).value());
                }
                int n = fd.ioctl(KvmIoctl.SET_MSRS, list);
                if (n != other.size()) {
                    throw new DeviceStateException(String.format("%s: KVM refused MSR %#x = %#x", me,
                        other.get(n).index(), other.get(n).value()));
                }
            }
            MemorySegment mp = a.allocate(4, 4);
            mp.set(ValueLayout.JAVA_INT, 0, k.mpState());
            fd.ioctl(KvmIoctl.SET_MP_STATE, mp);
            put(a, KvmIoctl.SET_VCPU_EVENTS, events);
            put(a, KvmIoctl.SET_DEBUGREGS, k.debugRegisters().toArray());
        } catch (KvmException e) {
            throw new DeviceStateException(me + ": KVM refused the state: " + e.getMessage(), e);
        }
    }

    /** KVM's paravirtual MSRs: 0 means "off", which a new vCPU already is (writing 0 is not always a no-op). */
    private static boolean isKvmPv(int msr) {
        return msr >= VcpuState.MSR_KVM_WALL_CLOCK_NEW && msr <= VcpuState.MSR_KVM_PV_EOI_EN;
    }

    private static boolean contains(int[] set, int v) {
        for (int x : set) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    /** kvm_mp_state values (Documentation/virt/kvm/api.rst, KVM_GET_MP_STATE). */
    static final int MP_STATE_RUNNABLE = 0;
    static final int MP_STATE_INIT_RECEIVED = 2;
    static final int MP_STATE_HALTED = 3;
    /** MSR_KVM_SYSTEM_TIME_NEW: kvmclock's per-vCPU pvclock page (Documentation/virt/kvm/x86/msr.rst). */
    static final int MSR_KVM_SYSTEM_TIME_NEW = 0x4b56_4d01;

    @Override
    public void reset() {
        X86State powerOn = new X86State();
        powerOn.applyPowerOn();
        loadState(powerOn);
        // kvmclock off, so KVM stops updating the old kernel's pvclock page in guest memory.
        msrs.fill((byte) 0);
        msrs.set(ValueLayout.JAVA_INT, 0, 1);
        msrs.set(ValueLayout.JAVA_INT, KVM_MSRS.byteSize(), MSR_KVM_SYSTEM_TIME_NEW);
        if (fd.ioctl(KvmIoctl.SET_MSRS, msrs) != 1) {
            throw new KvmException("KVM_SET_MSRS refused MSR_KVM_SYSTEM_TIME_NEW = 0");
        }
        // The BSP runs its boot state next; an AP waits for INIT/SIPI from the in-kernel LAPIC.
        mpState.set(ValueLayout.JAVA_INT, 0, index == 0 ? MP_STATE_RUNNABLE : MP_STATE_INIT_RECEIVED);
        fd.ioctl(KvmIoctl.SET_MP_STATE, mpState);
    }

    private void prepareMsrList(long[] values) {
        int[] idx = KvmStateCodec.MSR_INDICES;
        msrs.fill((byte) 0);
        msrs.set(ValueLayout.JAVA_INT, 0, idx.length);
        for (int i = 0; i < idx.length; i++) {
            long at = KVM_MSRS.byteSize() + i * KVM_MSR_ENTRY.byteSize();
            msrs.set(ValueLayout.JAVA_INT, at, idx[i]);
            msrs.set(ValueLayout.JAVA_LONG, at + 8, values == null ? 0 : values[i]);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Mman.unmap(run);
        } catch (SysException e) {
            throw new KvmException(e);
        } finally {
            fd.close();
        }
        arena.close();
    }
}
