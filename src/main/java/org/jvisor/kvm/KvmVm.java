package org.jvisor.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.jvisor.cpu.Accelerator;
import org.jvisor.cpu.CpuidEntry;
import org.jvisor.cpu.CpuidModel;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.Vcpu;
import org.jvisor.memory.Doorbells;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IrqLine;
import org.jvisor.memory.MsiIrqfds;
import org.jvisor.sys.EventFd;
import org.jvisor.sys.Fd;
import org.jvisor.sys.SysException;

import static org.jvisor.kvm.KvmStructs.KVM_IOEVENTFD;
import static org.jvisor.kvm.KvmStructs.KVM_IRQFD;
import static org.jvisor.kvm.KvmStructs.KVM_IRQ_LEVEL;
import static org.jvisor.kvm.KvmStructs.KVM_MSI;
import static org.jvisor.kvm.KvmStructs.KVM_PIT_CONFIG;
import static org.jvisor.kvm.KvmStructs.offset;

/**
 * A KVM virtual machine: guest RAM registered as memory slots, the in-kernel irqchip (PIC, IOAPIC,
 * LAPICs) and PIT, and the vCPUs. Port and MMIO exits are dispatched by each {@link KvmVcpu}.
 */
public final class KvmVm implements Accelerator {
    /** Three pages for the VMX real-mode TSS, just below the BIOS area, as QEMU places it. */
    static final long TSS_ADDR = 0xFFFB_D000L;
    /** One page for the EPT identity map used while the guest runs without paging. */
    static final long IDENTITY_MAP_ADDR = 0xFFFB_C000L;
    /** KVM_PIT_SPEAKER_DUMMY: port 0x61 is emulated in the kernel as well. */
    private static final int PIT_SPEAKER_DUMMY = 1;

    private final Arena arena = Arena.ofShared();
    private final KvmSystem system;
    private final KvmFd vm;
    private final MachineBus bus;
    private final int runSize;
    /** KVM's supported CPUID, made explicit (buildCpuid). */
    private final CpuidModel offered;
    /** What the vCPUs present: the offer as -cpu edited it (GuestCpuid). */
    private volatile CpuidModel cpuid;
    private final List<KvmVcpu> vcpus = new ArrayList<>();
    private KvmDoorbells doorbells;
    private KvmDirtyLog dirtyLog;
    private final MsiRoutes msiRoutes = new MsiRoutes(this);
    private final int vcpuCount;
    /** The MSRs a snapshot saves of each vCPU on this KVM. */
    private final int[] savedMsrs;
    /** Each vCPU's KVM-only record from a restore's DEVS section, until the vCPU takes it. */
    private final KvmVcpuState[] staged;

    private KvmVm(KvmSystem system, KvmFd vm, MachineBus bus, int vcpuCount) {
        this.system = system;
        this.vcpuCount = vcpuCount;
        this.staged = new KvmVcpuState[vcpuCount];
        this.vm = vm;
        this.bus = bus;
        this.runSize = system.vcpuMmapSize();
        this.offered = buildCpuid(system.supportedCpuid());
        this.cpuid = offered;
        this.savedMsrs = KvmVcpu.snapshotMsrs(system.msrIndexList());
    }

    /** Creates a VM for this machine; throws {@link KvmUnavailableException} if KVM cannot be used. */
    public static KvmVm create(MachineBus bus, int vcpuCount) {
        KvmSystem system = KvmSystem.open();
        try {
            int max = system.maxVcpus();
            if (vcpuCount > max) {
                throw new KvmUnavailableException("-smp " + vcpuCount + " is more than KVM allows here (" + max + ")");
            }
            int fd = system.createVm();
            KvmVm vm = new KvmVm(system, new KvmFd(Fd.adopt(fd, "VM")), bus, vcpuCount);
            vm.setupPlatform();
            vm.registerRam(bus.ram());
            return vm;
        } catch (RuntimeException e) {
            system.close();
            throw e;
        }
    }

    private void setupPlatform() {
        vm.ioctl(KvmIoctl.SET_TSS_ADDR, TSS_ADDR);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(ValueLayout.JAVA_LONG);
            addr.set(ValueLayout.JAVA_LONG, 0, IDENTITY_MAP_ADDR);
            vm.ioctl(KvmIoctl.SET_IDENTITY_MAP_ADDR, addr);
            vm.ioctl(KvmIoctl.CREATE_IRQCHIP, 0);
            MemorySegment pit = a.allocate(KVM_PIT_CONFIG);
            pit.set(ValueLayout.JAVA_INT, 0, PIT_SPEAKER_DUMMY);
            vm.ioctl(KvmIoctl.CREATE_PIT2, pit);
        }
    }

    /**
     * One slot per RAM range, logged when a live migration asks ({@link KvmDirtyLog}, attached to
     * RAM's dirty log); the firmware ROM read-only: writes exit as MMIO and go nowhere.
     */
    private void registerRam(GuestMemory ram) {
        List<KvmMemorySlot> slots = new ArrayList<>();
        long base = ram.segment().address();
        for (GuestMemory.RamRange r : ram.ranges()) {
            KvmMemorySlot s = new KvmMemorySlot(slots.size(), r.guestAddress(), r.size(), base + r.hostOffset(),
                r.hostOffset());
            s.register(vm, 0);
            slots.add(s);
        }
        GuestMemory.RamRange rom = ram.romRange();
        if (rom != null) {
            new KvmMemorySlot(slots.size(), rom.guestAddress(), rom.size(), base + rom.hostOffset(), rom.hostOffset())
                .register(vm, KVM_MEM_READONLY);
        }
        dirtyLog = new KvmDirtyLog(vm, slots);
        ram.dirtyLog().attach(dirtyLog);
    }

    /** KVM's dirty-page logging: every engine store is recorded while a live migration runs. */
    @Override
    public boolean logsDirtyPages() {
        return true;
    }

    /** The MSRs a snapshot saves of each vCPU here, ascending (what this KVM has of KvmVcpu.SNAPSHOT_MSRS). */
    public int[] snapshotMsrs() {
        return savedMsrs.clone();
    }

    /** KVM_MEM_READONLY (api.rst, 4.35 KVM_SET_USER_MEMORY_REGION). */
    private static final int KVM_MEM_READONLY = 1 << 1;

    /**
     * The guest's CPUID: what this KVM supports, with the hypervisor bit and KVM's paravirtual
     * leaves (which GET_SUPPORTED_CPUID already lists) made explicit.
     */
    private static CpuidModel buildCpuid(List<CpuidEntry> supported) {
        List<CpuidEntry> fixes = new ArrayList<>();
        boolean hasSignature = false;
        for (CpuidEntry e : supported) {
            if (e.function() == 1) {
                fixes.add(e.withRegs(e.eax(), e.ebx(), e.ecx() | CpuidModel.ECX_HYPERVISOR, e.edx()));
            }
            if (e.function() == CpuidModel.KVM_SIGNATURE_LEAF) {
                hasSignature = true;
            }
        }
        if (!hasSignature) {
            fixes.add(CpuidModel.kvmSignature());
        }
        return new CpuidModel(supported).with(fixes);
    }

    @Override
    public String name() {
        return "kvm";
    }

    @Override
    public boolean providesInterruptControllers() {
        return true;
    }

    /** KVM_GET_SUPPORTED_CPUID with the hypervisor bit and KVM's signature leaves made explicit. */
    @Override
    public CpuidModel offeredCpuid() {
        return offered;
    }

    @Override
    public CpuidModel cpuid() {
        return cpuid;
    }

    @Override
    public void presentCpuid(CpuidModel guest) {
        this.cpuid = guest;
    }

    @Override
    public synchronized Vcpu createVcpu(int index, ExitStats stats) {
        int fd = vm.ioctl(KvmIoctl.CREATE_VCPU, index);
        KvmVcpu vcpu = new KvmVcpu(index, new KvmFd(Fd.adopt(fd, "vCPU " + index)), runSize, bus, stats,
            cpuidForVcpu(index), this::clockNs, this::takeStaged, savedMsrs);
        vcpus.add(vcpu);
        return vcpu;
    }

    /** Per-vCPU CPUID: the initial APIC ID in leaf 1 EBX[31:24] and the x2APIC ID in leaves 0xB/0x1F. */
    private CpuidModel cpuidForVcpu(int index) {
        CpuidModel cpuid = this.cpuid;
        List<CpuidEntry> fixes = new ArrayList<>();
        for (CpuidEntry e : cpuid.entries()) {
            if (e.function() == 1) {
                fixes.add(e.withRegs(e.eax(), (e.ebx() & 0x00FF_FFFF) | (index << 24), e.ecx(), e.edx()));
            } else if (e.function() == 0xB || e.function() == 0x1F) {
                fixes.add(e.withRegs(e.eax(), e.ebx(), e.ecx(), index));
            }
        }
        return cpuid.with(fixes);
    }

    @Override
    public IrqLine irqLine(int gsi) {
        MemorySegment level = arena.allocate(KVM_IRQ_LEVEL);
        return high -> {
            synchronized (level) {
                level.set(ValueLayout.JAVA_INT, 0, gsi);
                level.set(ValueLayout.JAVA_INT, 4, high ? 1 : 0);
                vm.ioctl(KvmIoctl.IRQ_LINE, level);
            }
        };
    }

    /** KVM_IRQFD: writes to {@code eventFd} raise {@code gsi} without leaving the kernel. */
    public synchronized void assignIrqfd(int eventFd, int gsi) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KVM_IRQFD);
            s.set(ValueLayout.JAVA_INT, offset(KVM_IRQFD, "fd"), eventFd);
            s.set(ValueLayout.JAVA_INT, offset(KVM_IRQFD, "gsi"), gsi);
            vm.ioctl(KvmIoctl.IRQFD, s);
        }
    }

    /** KVM_IRQFD flag: unbind the eventfd from the GSI. */
    static final int IRQFD_FLAG_DEASSIGN = 1;

    /** KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN: writes to {@code eventFd} no longer raise {@code gsi}. */
    public synchronized void deassignIrqfd(int eventFd, int gsi) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KVM_IRQFD);
            s.set(ValueLayout.JAVA_INT, offset(KVM_IRQFD, "fd"), eventFd);
            s.set(ValueLayout.JAVA_INT, offset(KVM_IRQFD, "gsi"), gsi);
            s.set(ValueLayout.JAVA_INT, offset(KVM_IRQFD, "flags"), IRQFD_FLAG_DEASSIGN);
            vm.ioctl(KvmIoctl.IRQFD, s);
        }
    }

    /** KVM_IOEVENTFD flag: the address is a port, not MMIO. */
    public static final int IOEVENTFD_FLAG_PIO = 1 << 1;
    /** KVM_IOEVENTFD flag: only writes of {@code datamatch} signal. */
    public static final int IOEVENTFD_FLAG_DATAMATCH = 1;

    /** KVM_IOEVENTFD flag: remove the matching registration (same fd, address, length, datamatch). */
    public static final int IOEVENTFD_FLAG_DEASSIGN = 1 << 2;

    /** KVM_IOEVENTFD: a guest write of {@code len} bytes at {@code addr} signals {@code eventFd} in-kernel. */
    public void assignIoeventfd(int eventFd, long addr, int len, boolean pio, Long datamatch) {
        ioeventfd(eventFd, addr, len, pio, datamatch, false);
    }

    /** KVM_IOEVENTFD with KVM_IOEVENTFD_FLAG_DEASSIGN: undoes {@link #assignIoeventfd} with the same arguments. */
    public void deassignIoeventfd(int eventFd, long addr, int len, boolean pio, Long datamatch) {
        ioeventfd(eventFd, addr, len, pio, datamatch, true);
    }

    private synchronized void ioeventfd(int eventFd, long addr, int len, boolean pio, Long datamatch, boolean deassign) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KVM_IOEVENTFD);
            int flags = (pio ? IOEVENTFD_FLAG_PIO : 0) | (datamatch != null ? IOEVENTFD_FLAG_DATAMATCH : 0)
                | (deassign ? IOEVENTFD_FLAG_DEASSIGN : 0);
            s.set(ValueLayout.JAVA_LONG, offset(KVM_IOEVENTFD, "datamatch"), datamatch == null ? 0 : datamatch);
            s.set(ValueLayout.JAVA_LONG, offset(KVM_IOEVENTFD, "addr"), addr);
            s.set(ValueLayout.JAVA_INT, offset(KVM_IOEVENTFD, "len"), len);
            s.set(ValueLayout.JAVA_INT, offset(KVM_IOEVENTFD, "fd"), eventFd);
            s.set(ValueLayout.JAVA_INT, offset(KVM_IOEVENTFD, "flags"), flags);
            vm.ioctl(KvmIoctl.IOEVENTFD, s);
        }
    }

    /** MMIO doorbells through ioeventfds, read by one thread; created on first use. */
    @Override
    public synchronized Optional<Doorbells> doorbells() {
        if (doorbells == null) {
            doorbells = new KvmDoorbells(this);
        }
        return Optional.of(doorbells);
    }

    /** KVM_SET_GSI_ROUTING with a complete table (kvm_irq_routing header and entries). */
    synchronized void setGsiRouting(MemorySegment table) {
        vm.ioctl(KvmIoctl.SET_GSI_ROUTING, table);
    }

    /** A message-signalled interrupt: through its irqfd route ({@link MsiRoutes}), else KVM_SIGNAL_MSI. */
    @Override
    public void signalMsi(long address, int data) {
        if (!msiRoutes.signal(address, data)) {
            signalMsiIoctl(address, data);
        }
    }

    /**
     * Another process's eventfds as MSIs in the kernel: each is bound (KVM_IRQFD) to the GSI of
     * its message's route in {@link MsiRoutes}, the same table jvisor's own MSIs use.
     */
    @Override
    public Optional<MsiIrqfds> msiIrqfds() {
        return Optional.of(this::bindMsiIrqfd);
    }

    private MsiIrqfds.Binding bindMsiIrqfd(int eventFd, long address, int data) {
        int gsi = msiRoutes.gsi(address, data);
        if (gsi < 0) {
            throw new IllegalStateException(String.format("no MSI route left for message %#x/%#x (%d in use)", address, data,
                msiRoutes.routes()));
        }
        try {
            assignIrqfd(eventFd, gsi);
        } catch (KvmException e) {
            throw new IllegalStateException("KVM_IRQFD for GSI " + gsi + ": " + e.getMessage(), e);
        }
        return new MsiIrqfds.Binding() {
            private boolean bound = true;

            @Override
            public synchronized void close() {
                if (bound) {
                    bound = false;
                    try {
                        deassignIrqfd(eventFd, gsi);
                    } catch (KvmException e) {
                        // The VM is closed already: it took its irqfds along.
                    }
                }
            }
        };
    }

    /** MSI routes through irqfd in use (each a distinct message the guest programmed). */
    public int msiRoutesInUse() {
        return msiRoutes.routes();
    }

    /** KVM_SIGNAL_MSI: delivers one message-signalled interrupt. */
    synchronized void signalMsiIoctl(long address, int data) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KVM_MSI);
            s.set(ValueLayout.JAVA_INT, offset(KVM_MSI, "address_lo"), (int) address);
            s.set(ValueLayout.JAVA_INT, offset(KVM_MSI, "address_hi"), (int) (address >>> 32));
            s.set(ValueLayout.JAVA_INT, offset(KVM_MSI, "data"), data);
            vm.ioctl(KvmIoctl.SIGNAL_MSI, s);
        }
    }

    /** A new eventfd, for irqfd/ioeventfd wiring. */
    public static EventFd newEventFd() {
        try {
            return EventFd.create();
        } catch (SysException e) {
            throw new KvmException(e);
        }
    }

    // ---- snapshots: the in-kernel state (KvmStateDevices presents it as device records) ----

    @Override
    public List<EngineState> engineState(int vcpus) {
        return KvmStateDevices.of(this, Math.min(vcpus, vcpuCount));
    }

    /** The vCPU of {@code index}, or null before it is created. */
    synchronized KvmVcpu vcpu(int index) {
        for (KvmVcpu v : vcpus) {
            if (v.index() == index) {
                return v;
            }
        }
        return null;
    }

    /** Holds vCPU {@code index}'s checked KVM-only record until the vCPU exists and its registers are in. */
    synchronized void stage(int index, KvmVcpuState s) {
        staged[index] = s;
    }

    /** The staged record of vCPU {@code index}, once (null when there is none). */
    synchronized KvmVcpuState takeStaged(int index) {
        KvmVcpuState s = staged[index];
        staged[index] = null;
        return s;
    }

    /** KVM_GET_IRQCHIP: the 512-byte state of {@code chip} ({@link KvmIrqchipState}). */
    synchronized byte[] irqchip(int chip) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_IRQCHIP_BYTES, 8);
            s.set(ValueLayout.JAVA_INT, 0, chip);
            vm.ioctl(KvmIoctl.GET_IRQCHIP, s);
            return s.asSlice(KvmStructs.KVM_IRQCHIP_CHIP, KvmStructs.KVM_IRQCHIP_CHIP_BYTES).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** KVM_SET_IRQCHIP. */
    synchronized void setIrqchip(int chip, byte[] state) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_IRQCHIP_BYTES, 8);
            s.set(ValueLayout.JAVA_INT, 0, chip);
            MemorySegment.copy(state, 0, s, ValueLayout.JAVA_BYTE, KvmStructs.KVM_IRQCHIP_CHIP, state.length);
            vm.ioctl(KvmIoctl.SET_IRQCHIP, s);
        }
    }

    /** KVM_GET_PIT2: struct kvm_pit_state2. */
    synchronized byte[] pit() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_PIT_STATE2_BYTES, 8);
            vm.ioctl(KvmIoctl.GET_PIT2, s);
            return s.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** KVM_SET_PIT2. */
    synchronized void setPit(byte[] state) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_PIT_STATE2_BYTES, 8);
            MemorySegment.copy(state, 0, s, ValueLayout.JAVA_BYTE, 0, state.length);
            vm.ioctl(KvmIoctl.SET_PIT2, s);
        }
    }

    /** KVM_GET_CLOCK: kvmclock in guest nanoseconds. */
    synchronized long clockNs() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_CLOCK_DATA_BYTES, 8);
            vm.ioctl(KvmIoctl.GET_CLOCK, s);
            return s.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /** KVM_SET_CLOCK: kvmclock goes on from {@code ns} (flags 0: no realtime adjustment). */
    synchronized void setClockNs(long ns) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_CLOCK_DATA_BYTES, 8);
            s.set(ValueLayout.JAVA_LONG, 0, ns);
            vm.ioctl(KvmIoctl.SET_CLOCK, s);
        }
    }

    @Override
    public synchronized void close() {
        if (doorbells != null) {
            doorbells.close();
            doorbells = null;
        }
        msiRoutes.close();
        for (KvmVcpu v : vcpus) {
            v.close();
        }
        vcpus.clear();
        if (dirtyLog != null) {
            dirtyLog.close();
        }
        vm.close();
        system.close();
        arena.close();
    }
}
