package org.jvisor.devices.intc;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntSupplier;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.devices.intc.ApicBus.DeliveryMode;
import org.jvisor.devices.intc.ApicBus.DestMode;
import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.devices.timer.Clock;
import org.jvisor.devices.timer.TimerQueue;
import org.jvisor.devices.timer.VirtualTimer;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * One vCPU's local APIC (Intel SDM vol. 3, chapter 10): the xAPIC register page (Table 10-1), the
 * x2APIC MSR view (10.12), the 256-bit IRR/ISR/TMR with TPR/PPR priority (10.8), EOI (10.8.5),
 * IPIs through the ICR (10.6), the LVT (10.5.1) and the APIC timer (10.5.4: one-shot, periodic,
 * TSC-deadline). It is not on the shared bus: the engine routes its vCPU's accesses to the APIC page
 * (per IA32_APIC_BASE) to {@link #read}/{@link #write}, and MSRs 0x800-0x8FF to
 * {@link #readMsr}/{@link #writeMsr} in x2APIC mode.
 *
 * <p>The CPU side: {@link #hasPendingInterrupt()} (cheap, a volatile read), {@link
 * #acknowledgeInterrupt()} (INTA: IRR to ISR, or the PIC's vector for ExtINT), a wake-up {@link
 * Runnable} for halted vCPUs, and a {@link Listener} for INIT, SIPI, NMI and SMI.
 *
 * <p>Locking: state is guarded by this object; nothing outside (bus, IOAPIC, other LAPICs, PIC,
 * listeners) is called with the lock held, so LAPICs and IOAPICs can call each other freely.
 */
public final class LocalApic implements BusDevice, StatefulDevice<LocalApicState> {
    /** APIC timer input: the "bus clock" is 1 GHz, as KVM and QEMU present it (1 ns per count before the divider). */
    public static final long BUS_CYCLE_NS = 1;
    /** Shortest period of the periodic timer: KVM's default min_timer_period_us (200 µs). */
    public static final long MIN_PERIODIC_NS = 200_000;
    public static final long DEFAULT_BASE = 0xFEE0_0000L;
    public static final long BASE_BSP = 1L << 8;
    public static final long BASE_EXTD = 1L << 10;
    public static final long BASE_ENABLE = 1L << 11;
    /** Version 0x14 (integrated APIC), max LVT entry 5 (no CMCI), no EOI-broadcast suppression. */
    public static final int VERSION = 0x0005_0014;

    // Register offsets (SDM Table 10-1)
    public static final int REG_ID = 0x020, REG_VERSION = 0x030, REG_TPR = 0x080, REG_APR = 0x090,
        REG_PPR = 0x0A0, REG_EOI = 0x0B0, REG_RRD = 0x0C0, REG_LDR = 0x0D0, REG_DFR = 0x0E0,
        REG_SVR = 0x0F0, REG_ISR = 0x100, REG_TMR = 0x180, REG_IRR = 0x200, REG_ESR = 0x280,
        REG_LVT_CMCI = 0x2F0, REG_ICR_LOW = 0x300, REG_ICR_HIGH = 0x310, REG_LVT_TIMER = 0x320,
        REG_LVT_THERMAL = 0x330, REG_LVT_PERF = 0x340, REG_LVT_LINT0 = 0x350, REG_LVT_LINT1 = 0x360,
        REG_LVT_ERROR = 0x370, REG_TIMER_INITIAL = 0x380, REG_TIMER_CURRENT = 0x390,
        REG_TIMER_DIVIDE = 0x3E0, REG_SELF_IPI = 0x3F0;

    // LVT indexes (offset 0x320 + 16 * index)
    private static final int LVT_TIMER = 0, LVT_THERMAL = 1, LVT_PERF = 2, LVT_LINT0 = 3, LVT_LINT1 = 4, LVT_ERROR = 5;
    private static final int LVT_MASKED = 1 << 16;
    /** Writable bits of each LVT (10.5.1): timer has mode bits 18:17, LINTs polarity and trigger. */
    private static final int[] LVT_WRITABLE = {0x000700FF, 0x000107FF, 0x000107FF, 0x0001A7FF, 0x0001A7FF, 0x000100FF};
    private static final int TIMER_ONE_SHOT = 0, TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2;

    private static final int SVR_ENABLE = 1 << 8;
    // ESR bits (10.5.3)
    public static final int ESR_SEND_ILLEGAL_VECTOR = 1 << 5, ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6,
        ESR_ILLEGAL_REGISTER = 1 << 7;

    private static final long NOT_ARMED = Long.MIN_VALUE;
    private static final String NAME = "local APIC";
    /** IA32_APIC_BASE bits that exist: BSP, EXTD, EN and the base address (10.4.4). */
    private static final long BASE_VALID = 0xF_FFFF_FD00L;

    /** What the engine hears from its LAPIC; called on the sender's thread, without locks held. */
    public interface Listener {
        /** INIT arrived (10.4.7.3): the vCPU resets and waits for a startup IPI (unless it is the BSP's reset). */
        void onInit();

        /** A startup IPI: an AP in wait-for-SIPI starts in real mode at {@code vector << 12}. */
        void onStartup(int vector);

        /** An NMI is pending; the engine takes it with {@link LocalApic#takeNmi()}. */
        default void onNmi() {
        }

        default void onSmi() {
        }
    }

    private final boolean bsp;
    private final Clock clock;
    private final VirtualTimer timer;
    private volatile ApicBus bus;
    private volatile Runnable wakeup = () -> { };
    private volatile Listener listener;
    private volatile IntSupplier extIntSource;

    // Architectural state, guarded by this
    private int id;
    private long apicBase;
    private int tpr;
    private int ldr;
    private int dfr;
    private int svr;
    private int esr;
    private int esrPending;
    private int icrLow;
    private int icrHigh;
    private final int[] lvt = new int[6];
    private final int[] irr = new int[8];
    private final int[] isr = new int[8];
    private final int[] tmr = new int[8];
    private int divideConfig;
    private int divide;
    private int initialCount;
    private long timerStart;
    private long timerDeadline = NOT_ARMED;
    private long tscDeadline;
    private boolean lint0Level;
    private boolean lint1Level;

    // Published for lock-free polling by the vCPU
    private volatile int pendingVector = -1;
    private volatile boolean extIntWire;
    private volatile boolean extIntMessage;
    /** The NMI latch: one NMI stays pending until the CPU takes it; more merge into it. */
    private final AtomicBoolean nmiPending = new AtomicBoolean();

    /**
     * @param apicId the APIC ID (also the initial x2APIC ID)
     * @param bsp whether this is the bootstrap processor (IA32_APIC_BASE bit 8; its LINT0 starts in
     *            ExtINT mode so the PIC reaches it with no BIOS, as QEMU does)
     * @param timers the machine's timer queue (its clock is the APIC timer's time base)
     * @param bus where IPIs and EOIs go; may be set later with {@link #setBus}
     */
    public LocalApic(int apicId, boolean bsp, TimerQueue timers, ApicBus bus) {
        this.bsp = bsp;
        this.clock = timers.clock();
        this.bus = bus;
        this.timer = timers.newTimer("lapic" + apicId, this::timerExpired);
        this.id = apicId;
        synchronized (this) {
            apicBase = DEFAULT_BASE | BASE_ENABLE | (bsp ? BASE_BSP : 0);
            resetRegisters();
        }
    }

    public void setBus(ApicBus bus) {
        this.bus = bus;
    }

    /** Runs (on any thread) when an interrupt may have become pending: unpark a halted vCPU here. */
    public void setWakeup(Runnable wakeup) {
        this.wakeup = wakeup == null ? () -> { } : wakeup;
    }

    public void setListener(Listener listener) {
        this.listener = listener;
    }

    /** Where ExtINT vectors come from (the PIC's interrupt acknowledge: {@code pic::acknowledge}). */
    public void setExtIntSource(IntSupplier acknowledge) {
        this.extIntSource = acknowledge;
    }

    // ---------------------------------------------------------------- reset and IA32_APIC_BASE

    /** Power-on/RESET state (10.4.7.1), keeping the APIC ID; IA32_APIC_BASE back to enabled xAPIC. */
    public void reset() {
        synchronized (this) {
            apicBase = DEFAULT_BASE | BASE_ENABLE | (bsp ? BASE_BSP : 0);
            resetRegisters();
        }
        nmiPending.set(false);
        extIntMessage = false;
    }

    /** 10.4.7.1: IRR, ISR, TMR, ICR, LDR, TPR, timer zero; DFR all ones; LVTs masked; SVR 0xFF. */
    private void resetRegisters() {
        tpr = 0;
        ldr = 0;
        dfr = 0xFFFF_FFFF;
        svr = 0xFF;
        esr = 0;
        esrPending = 0;
        icrLow = 0;
        icrHigh = 0;
        for (int i = 0; i < 8; i++) {
            irr[i] = 0;
            isr[i] = 0;
            tmr[i] = 0;
        }
        for (int i = 0; i < lvt.length; i++) {
            lvt[i] = LVT_MASKED;
        }
        if (bsp) {
            lvt[LVT_LINT0] = DeliveryMode.EXTINT.code << 8; // virtual wire mode, as a BIOS leaves it
        }
        divideConfig = 0;
        divide = 2;
        initialCount = 0;
        timerDeadline = NOT_ARMED;
        tscDeadline = 0;
        timer.cancel();
        if (isX2Apic()) {
            ldr = x2apicLdr(id);
        }
        publish();
    }

    public synchronized long apicBase() {
        return apicBase;
    }

    /**
     * A WRMSR to IA32_APIC_BASE (10.4.4, 10.12.5). Returns false for an illegal value or transition
     * (EXTD without EN, x2APIC straight to xAPIC, disabled straight to x2APIC): the engine raises #GP.
     * Clearing EN returns the APIC to its power-on state.
     */
    public boolean setApicBase(long value) {
        synchronized (this) {
            boolean en = (value & BASE_ENABLE) != 0;
            boolean extd = (value & BASE_EXTD) != 0;
            boolean wasEn = (apicBase & BASE_ENABLE) != 0;
            boolean wasExtd = (apicBase & BASE_EXTD) != 0;
            if ((extd && !en) || (wasEn && wasExtd && en && !extd) || (!wasEn && en && extd)
                || (value & ~0xF_FFFF_FD00L) != 0) {
                return false;
            }
            apicBase = (value & 0xF_FFFF_FC00L & ~BASE_BSP) | (bsp ? BASE_BSP : 0);
            if (!en) {
                resetRegisters();
            } else if (extd && !wasExtd) {
                ldr = x2apicLdr(id);
            }
            publish();
        }
        return true;
    }

    /** Whether IA32_APIC_BASE.EN is set (a disabled APIC passes the PIC's INTR straight through). */
    public synchronized boolean isEnabled() {
        return (apicBase & BASE_ENABLE) != 0;
    }

    public synchronized boolean isX2Apic() {
        return (apicBase & (BASE_ENABLE | BASE_EXTD)) == (BASE_ENABLE | BASE_EXTD);
    }

    /** Physical address of the register page (IA32_APIC_BASE bits 35:12). */
    public synchronized long baseAddress() {
        return apicBase & 0xF_FFFF_F000L;
    }

    public synchronized boolean isSoftwareEnabled() {
        return (svr & SVR_ENABLE) != 0;
    }

    public synchronized int apicId() {
        return id;
    }

    public boolean isBsp() {
        return bsp;
    }

    private static int x2apicLdr(int id) {
        return (id >>> 4) << 16 | 1 << (id & 0xF);
    }

    // ---------------------------------------------------------------- xAPIC MMIO

    @Override
    public long read(long offset, int size) {
        int reg = (int) offset & 0xFF0;
        int v;
        synchronized (this) {
            v = readRegister(reg);
        }
        int shift = ((int) offset & 3) * 8;
        long r = (v & 0xFFFF_FFFFL) >>> shift;
        return size >= 4 ? r : r & ((1L << (size * 8)) - 1);
    }

    @Override
    public void write(long offset, int size, long value) {
        if ((offset & 0xF) != 0) {
            return; // registers are 32-bit at 16-byte alignment; other writes have no effect
        }
        writeRegister((int) offset & 0xFF0, (int) value, false);
    }

    private int readRegister(int reg) {
        return switch (reg) {
            case REG_ID -> isX2Apic() ? id : id << 24;
            case REG_VERSION -> VERSION;
            case REG_TPR -> tpr;
            case REG_APR -> 0;
            case REG_PPR -> ppr();
            case REG_LDR -> ldr;
            case REG_DFR -> dfr;
            case REG_SVR -> svr;
            case REG_ESR -> esr;
            case REG_ICR_LOW -> icrLow;
            case REG_ICR_HIGH -> icrHigh;
            case REG_LVT_TIMER, REG_LVT_THERMAL, REG_LVT_PERF, REG_LVT_LINT0, REG_LVT_LINT1, REG_LVT_ERROR ->
                lvt[(reg - REG_LVT_TIMER) >> 4];
            case REG_TIMER_INITIAL -> timerMode() == TIMER_TSC_DEADLINE ? 0 : initialCount;
            case REG_TIMER_CURRENT -> currentCount(clock.nanos());
            case REG_TIMER_DIVIDE -> divideConfig;
            default -> {
                if (reg >= REG_ISR && reg < REG_ISR + 0x80) {
                    yield isr[(reg - REG_ISR) >> 4];
                } else if (reg >= REG_TMR && reg < REG_TMR + 0x80) {
                    yield tmr[(reg - REG_TMR) >> 4];
                } else if (reg >= REG_IRR && reg < REG_IRR + 0x80) {
                    yield irr[(reg - REG_IRR) >> 4];
                }
                yield 0; // EOI, RRD, reserved
            }
        };
    }

    /**
     * Writes one register. Side effects outside this LAPIC (IPIs, EOI broadcast, wake-ups) happen
     * after the lock is released.
     */
    private void writeRegister(int reg, int v, boolean x2) {
        int ipiLow = 0;
        int ipiDest = 0;
        boolean sendIpi = false;
        int eoiVector = -1;
        boolean wake;
        synchronized (this) {
            int before = pendingVector;
            switch (reg) {
                case REG_ID -> {
                    if (!x2) {
                        id = v >>> 24;
                    }
                }
                case REG_TPR -> tpr = v & 0xFF;
                case REG_EOI -> eoiVector = eoi();
                case REG_LDR -> {
                    if (!x2) {
                        ldr = v & 0xFF00_0000;
                    }
                }
                case REG_DFR -> {
                    if (!x2) {
                        dfr = v | 0x0FFF_FFFF;
                    }
                }
                case REG_SVR -> {
                    svr = v & 0x3FF; // vector, APIC software enable, focus check (no EOI suppression)
                    if ((svr & SVR_ENABLE) == 0) {
                        for (int i = 0; i < lvt.length; i++) {
                            lvt[i] |= LVT_MASKED; // 10.4.7.2
                        }
                    }
                }
                case REG_ESR -> {
                    esr = esrPending; // write then read (10.5.3)
                    esrPending = 0;
                }
                case REG_ICR_LOW -> {
                    icrLow = v & 0x000C_CFFF; // delivery status (bit 12) reads 0: delivery is instant
                    ipiLow = icrLow;
                    ipiDest = x2 ? icrHigh : icrHigh >>> 24;
                    sendIpi = true;
                }
                case REG_ICR_HIGH -> icrHigh = x2 ? v : v & 0xFF00_0000;
                case REG_LVT_TIMER -> writeLvtTimer(v);
                case REG_LVT_THERMAL, REG_LVT_PERF, REG_LVT_LINT0, REG_LVT_LINT1, REG_LVT_ERROR -> {
                    int i = (reg - REG_LVT_TIMER) >> 4;
                    int w = v & LVT_WRITABLE[i] | lvt[i] & ~LVT_WRITABLE[i];
                    if ((svr & SVR_ENABLE) == 0) {
                        w |= LVT_MASKED;
                    }
                    lvt[i] = w;
                    if (i == LVT_LINT0 || i == LVT_LINT1) {
                        // A newly unmasked fixed/NMI LINT with its pin high is sampled at once.
                        localInterrupt(i, i == LVT_LINT0 ? lint0Level : lint1Level, false);
                    }
                }
                case REG_TIMER_INITIAL -> {
                    if (timerMode() != TIMER_TSC_DEADLINE) {
                        initialCount = v;
                        startTimer(clock.nanos());
                    }
                }
                case REG_TIMER_DIVIDE -> writeDivide(v);
                case REG_SELF_IPI -> {
                    if (x2) {
                        acceptFixed(v & 0xFF, false);
                    }
                }
                default -> {
                    // read-only or reserved
                }
            }
            publish();
            wake = pendingVector >= 0 && pendingVector != before || extIntWire;
        }
        if (eoiVector >= 0) {
            ApicBus b = bus;
            if (b != null) {
                b.eoi(eoiVector);
            }
        }
        if (sendIpi) {
            sendIpi(ipiLow, ipiDest);
        }
        if (wake) {
            wakeup.run();
        }
    }

    // ---------------------------------------------------------------- x2APIC MSRs (10.12.1.2)

    /** Whether MSR {@code msr} is an x2APIC register readable (or writable) in x2APIC mode. */
    public static boolean isX2ApicMsr(int msr, boolean write) {
        return switch (msr) {
            case 0x802, 0x803, 0x80A, 0x80D, 0x839 -> !write;
            case 0x80B, 0x83F -> write;
            case 0x808, 0x80F, 0x828, 0x830, 0x832, 0x833, 0x834, 0x835, 0x836, 0x837, 0x838, 0x83E -> true;
            default -> !write && msr >= 0x810 && msr <= 0x827;
        };
    }

    /** RDMSR of an x2APIC register (check {@link #isX2ApicMsr} and {@link #isX2Apic} first). */
    public long readMsr(int msr) {
        synchronized (this) {
            if (msr == 0x830) {
                return (long) icrHigh << 32 | icrLow & 0xFFFF_FFFFL;
            }
            return readRegister((msr - 0x800) << 4) & 0xFFFF_FFFFL;
        }
    }

    /** WRMSR of an x2APIC register; the 64-bit ICR at 0x830 sends at once, 0x83F is SELF IPI. */
    public void writeMsr(int msr, long value) {
        if (msr == 0x830) {
            synchronized (this) {
                icrHigh = (int) (value >>> 32);
            }
        }
        writeRegister((msr - 0x800) << 4, (int) value, true);
    }

    // ---------------------------------------------------------------- priority (10.8.3)

    private static int highest(int[] bits) {
        for (int i = 7; i >= 0; i--) {
            if (bits[i] != 0) {
                return i * 32 + 31 - Integer.numberOfLeadingZeros(bits[i]);
            }
        }
        return -1;
    }

    private static boolean test(int[] bits, int v) {
        return (bits[v >> 5] & (1 << (v & 31))) != 0;
    }

    private static void set(int[] bits, int v) {
        bits[v >> 5] |= 1 << (v & 31);
    }

    private static void clear(int[] bits, int v) {
        bits[v >> 5] &= ~(1 << (v & 31));
    }

    /** PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0 (10.8.3.1). */
    private int ppr() {
        int isrv = Math.max(highest(isr), 0);
        return (tpr & 0xF0) >= (isrv & 0xF0) ? tpr : isrv & 0xF0;
    }

    /** The vector to deliver: the highest IRR whose class is above the PPR's; -1 if none. */
    private int computePending() {
        if ((svr & SVR_ENABLE) == 0 || (apicBase & BASE_ENABLE) == 0) {
            return -1;
        }
        int v = highest(irr);
        if (v < 0 || (v & 0xF0) <= (ppr() & 0xF0)) {
            return -1;
        }
        return v;
    }

    private void publish() {
        pendingVector = computePending();
        extIntWire = lint0Level && acceptsExtInt();
    }

    /** LINT0 is in unmasked ExtINT mode, or the APIC is globally disabled (the PIC's INTR bypasses it). */
    private boolean acceptsExtInt() {
        if ((apicBase & BASE_ENABLE) == 0) {
            return true;
        }
        int l = lvt[LVT_LINT0];
        return (l & LVT_MASKED) == 0 && ((l >> 8) & 7) == DeliveryMode.EXTINT.code;
    }

    // ---------------------------------------------------------------- CPU side

    /** Whether an external interrupt (an APIC vector above PPR, or ExtINT) awaits delivery. A volatile read. */
    public boolean hasPendingInterrupt() {
        return pendingVector >= 0 || extIntWire || extIntMessage;
    }

    /** The highest-priority deliverable IRR vector above PPR when software-enabled; -1 if none. */
    public int pendingInterruptVector() {
        return pendingVector;
    }

    /** INTA for an APIC vector: moves it from IRR to ISR (10.8.4). */
    public void acknowledge(int vector) {
        synchronized (this) {
            if (test(irr, vector)) {
                clear(irr, vector);
                set(isr, vector);
            }
            publish();
        }
    }

    /**
     * INTA as the CPU does it: ExtINT first (the vector comes from the PIC's acknowledge), else the
     * pending APIC vector moved to ISR. Returns -1 when nothing is deliverable any more.
     */
    public int acknowledgeInterrupt() {
        if (extIntWire || extIntMessage) {
            IntSupplier src = extIntSource;
            extIntMessage = false;
            if (src != null) {
                return src.getAsInt();
            }
        }
        synchronized (this) {
            int v = computePending();
            if (v < 0) {
                return -1;
            }
            clear(irr, v);
            set(isr, v);
            publish();
            return v;
        }
    }

    /** Takes a pending NMI (LINT1 in NMI mode, an NMI IPI or message); true if there was one. */
    public boolean takeNmi() {
        return nmiPending.get() && nmiPending.getAndSet(false);
    }

    public boolean nmiPending() {
        return nmiPending.get();
    }

    /** TPR as CR8 sees it (CR8 = TPR[7:4], SDM 10.8.6.1). */
    public synchronized long cr8() {
        return tpr >> 4;
    }

    public void setCr8(long value) {
        boolean wake;
        synchronized (this) {
            int before = pendingVector;
            tpr = (int) (value & 0xF) << 4;
            publish();
            wake = pendingVector >= 0 && pendingVector != before;
        }
        if (wake) {
            wakeup.run();
        }
    }

    private int eoi() {
        int v = highest(isr);
        if (v < 0) {
            return -1;
        }
        clear(isr, v);
        return test(tmr, v) ? v : -1; // level-triggered: broadcast to the IOAPICs
    }

    // ---------------------------------------------------------------- receiving (10.6, 10.8.1)

    /** Whether a message with this destination selects this LAPIC (10.6.2). */
    public synchronized boolean matches(int destination, DestMode mode) {
        if ((apicBase & BASE_ENABLE) == 0) {
            return false;
        }
        boolean x2 = isX2Apic();
        if (mode == DestMode.PHYSICAL) {
            if (destination == ApicBus.BROADCAST || destination == -1) {
                return true;
            }
            return x2 ? destination == id : (destination & 0xFF) == (id & 0xFF);
        }
        if (x2) {
            if (destination == -1) {
                return true;
            }
            return destination >>> 16 == ldr >>> 16 && (destination & ldr & 0xFFFF) != 0;
        }
        int d = destination & 0xFF;
        if (d == 0xFF) {
            return true;
        }
        int logicalId = ldr >>> 24;
        if ((dfr >>> 28) == 0xF) {
            return (d & logicalId) != 0; // flat model
        }
        // cluster model: bits 7:4 cluster (15 = all clusters), bits 3:0 members
        return ((d >> 4) == 0xF || (d >> 4) == (logicalId >> 4)) && (d & logicalId & 0xF) != 0;
    }

    /** For lowest-priority arbitration: the processor priority (lower wins). */
    public synchronized int arbitrationPriority() {
        return ppr();
    }

    /** Accepts an interrupt message from the bus (IOAPIC, MSI or another LAPIC's IPI). */
    public void accept(DeliveryMode mode, int vector, boolean level, boolean levelTriggered) {
        Listener l = listener;
        switch (mode) {
            case FIXED, LOWEST_PRIORITY -> {
                boolean wake;
                synchronized (this) {
                    if ((apicBase & BASE_ENABLE) == 0 || (svr & SVR_ENABLE) == 0) {
                        return; // a disabled APIC takes only INIT, NMI, SMI and SIPI (10.4.7.2), as KVM does
                    }
                    int before = pendingVector;
                    acceptFixed(vector, levelTriggered);
                    publish();
                    wake = pendingVector >= 0 && pendingVector != before;
                }
                if (wake) {
                    wakeup.run();
                }
            }
            case NMI -> {
                nmiPending.set(true);
                if (l != null) {
                    l.onNmi();
                }
                wakeup.run();
            }
            case SMI -> {
                if (l != null) {
                    l.onSmi();
                }
            }
            case INIT -> {
                if (!level && levelTriggered) {
                    return; // INIT level de-assert: only synchronizes arbitration IDs
                }
                synchronized (this) {
                    resetRegisters(); // 10.4.7.3: INIT keeps the APIC ID and IA32_APIC_BASE
                }
                nmiPending.set(false);
                extIntMessage = false;
                if (l != null) {
                    l.onInit();
                }
                wakeup.run();
            }
            case STARTUP -> {
                if (l != null) {
                    l.onStartup(vector & 0xFF);
                }
                wakeup.run();
            }
            case EXTINT -> {
                extIntMessage = true;
                wakeup.run();
            }
        }
    }

    /** Sets the IRR bit (and TMR for level-triggered), or logs an illegal vector (10.5.3). Lock held. */
    private void acceptFixed(int vector, boolean levelTriggered) {
        vector &= 0xFF;
        if (vector < 16) {
            error(ESR_RECEIVE_ILLEGAL_VECTOR);
            return;
        }
        set(irr, vector);
        if (levelTriggered) {
            set(tmr, vector);
        } else {
            clear(tmr, vector);
        }
    }

    /** Records an APIC error and raises the error LVT's interrupt (10.5.3). Lock held. */
    private void error(int bit) {
        boolean fresh = (esrPending & bit) == 0;
        esrPending |= bit;
        int l = lvt[LVT_ERROR];
        if (fresh && (l & LVT_MASKED) == 0 && (l & 0xFF) >= 16) {
            set(irr, l & 0xFF);
            clear(tmr, l & 0xFF);
        }
    }

    /** The LINT0 pin (the PIC's INTR in virtual-wire mode). */
    public void setLint0(boolean level) {
        setLint(LVT_LINT0, level);
    }

    /** The LINT1 pin (NMI on a PC). */
    public void setLint1(boolean level) {
        setLint(LVT_LINT1, level);
    }

    public IrqLine lint0() {
        return this::setLint0;
    }

    public IrqLine lint1() {
        return this::setLint1;
    }

    private void setLint(int index, boolean level) {
        boolean nmi;
        boolean wake;
        synchronized (this) {
            int before = pendingVector;
            boolean old = index == LVT_LINT0 ? lint0Level : lint1Level;
            if (index == LVT_LINT0) {
                lint0Level = level;
            } else {
                lint1Level = level;
            }
            nmi = localInterrupt(index, level, !old && level);
            publish();
            wake = pendingVector >= 0 && pendingVector != before || extIntWire;
        }
        if (nmi) {
            nmiPending.set(true);
            Listener l = listener;
            if (l != null) {
                l.onNmi();
            }
            wake = true;
        }
        if (wake) {
            wakeup.run();
        }
    }

    /**
     * A LINT pin in fixed or NMI mode: edge-triggered entries act on a rising edge, level-triggered
     * ones while high (10.5.1). Returns true for an NMI to raise. Lock held; ExtINT is handled by
     * {@link #publish()}.
     */
    private boolean localInterrupt(int index, boolean level, boolean risingEdge) {
        int l = lvt[index];
        if ((l & LVT_MASKED) != 0 || !level || (apicBase & BASE_ENABLE) == 0) {
            return false;
        }
        boolean levelTriggered = (l & (1 << 15)) != 0;
        if (!risingEdge && !levelTriggered) {
            return false;
        }
        int dm = (l >> 8) & 7;
        if (dm == DeliveryMode.FIXED.code) {
            acceptFixed(l & 0xFF, levelTriggered);
        } else if (dm == DeliveryMode.NMI.code) {
            return risingEdge;
        }
        return false;
    }

    // ---------------------------------------------------------------- sending IPIs (10.6.1)

    private void sendIpi(int low, int destination) {
        int vector = low & 0xFF;
        DeliveryMode dm = DeliveryMode.of(low >> 8);
        boolean logical = (low & (1 << 11)) != 0;
        boolean level = (low & (1 << 14)) != 0;
        boolean levelTriggered = (low & (1 << 15)) != 0;
        int shorthand = (low >> 18) & 3;
        if (dm == null) {
            return;
        }
        if ((dm == DeliveryMode.FIXED || dm == DeliveryMode.LOWEST_PRIORITY) && vector < 16) {
            boolean wake;
            synchronized (this) {
                int before = pendingVector;
                error(ESR_SEND_ILLEGAL_VECTOR);
                publish();
                wake = pendingVector >= 0 && pendingVector != before;
            }
            if (wake) {
                wakeup.run();
            }
            return;
        }
        if (dm == DeliveryMode.INIT || dm == DeliveryMode.STARTUP) {
            levelTriggered = dm == DeliveryMode.INIT && levelTriggered;
            level = dm == DeliveryMode.STARTUP || level || !levelTriggered;
        } else {
            level = true; // only INIT uses a de-assert
        }
        ApicBus b = bus;
        switch (shorthand) {
            case 1 -> accept(dm, vector, level, levelTriggered); // self
            case 2 -> {
                if (b != null) {
                    b.deliverToAll(null, dm, vector, level, levelTriggered);
                }
            }
            case 3 -> {
                if (b != null) {
                    b.deliverToAll(this, dm, vector, level, levelTriggered);
                }
            }
            default -> {
                if (b != null) {
                    b.deliver(destination, DestMode.of(logical), dm, vector, level, levelTriggered);
                }
            }
        }
    }

    // ---------------------------------------------------------------- timer (10.5.4)

    private int timerMode() {
        return (lvt[LVT_TIMER] >> 17) & 3;
    }

    private void writeLvtTimer(int v) {
        int old = timerMode();
        int w = v & LVT_WRITABLE[LVT_TIMER];
        if ((svr & SVR_ENABLE) == 0) {
            w |= LVT_MASKED;
        }
        lvt[LVT_TIMER] = w;
        if (timerMode() != old) {
            // A mode change disarms the timer (10.5.4.1).
            initialCount = 0;
            tscDeadline = 0;
            timerDeadline = NOT_ARMED;
            timer.cancel();
        }
    }

    /** Divide configuration (Figure 10-10): bits 3,1,0; 0b111 divides by 1. */
    private void writeDivide(int v) {
        long now = clock.nanos();
        int remaining = currentCount(now);
        divideConfig = v & 0xB;
        divide = divisorOf(divideConfig);
        if (timerDeadline != NOT_ARMED && timerMode() != TIMER_TSC_DEADLINE) {
            // Keep the current count; it continues at the new rate.
            long done = (initialCount & 0xFFFF_FFFFL) - (remaining & 0xFFFF_FFFFL);
            timerStart = now - done * tickNs();
            timerDeadline = now + (remaining & 0xFFFF_FFFFL) * tickNs();
            timer.arm(timerDeadline);
        }
    }

    /** The timer's divisor for a divide configuration value (Figure 10-10): 0b1011 divides by 1. */
    private static int divisorOf(int divideConfig) {
        int code = (divideConfig & 3) | ((divideConfig >> 1) & 4);
        return code == 7 ? 1 : 2 << code;
    }

    private long tickNs() {
        return divide * BUS_CYCLE_NS;
    }

    private long periodNs() {
        return (initialCount & 0xFFFF_FFFFL) * tickNs();
    }

    /**
     * How far apart periodic interrupts are scheduled: the programmed period, but no shorter than
     * {@link #MIN_PERIODIC_NS}, as KVM limits it (min_timer_period_us): a guest programming an
     * initial count of 1 would otherwise have the VMM fire its timer every nanosecond.
     */
    private long firingPeriodNs() {
        long p = periodNs();
        return timerMode() == TIMER_PERIODIC ? Math.max(p, MIN_PERIODIC_NS) : p;
    }

    private void startTimer(long now) {
        if (initialCount == 0) {
            timerDeadline = NOT_ARMED;
            timer.cancel();
            return;
        }
        timerStart = now;
        timerDeadline = now + firingPeriodNs();
        timer.arm(timerDeadline);
    }

    private int currentCount(long now) {
        if (timerMode() == TIMER_TSC_DEADLINE || initialCount == 0 || timerDeadline == NOT_ARMED) {
            return 0;
        }
        long init = initialCount & 0xFFFF_FFFFL;
        long elapsed = (now - timerStart) / tickNs();
        if (timerMode() == TIMER_PERIODIC) {
            return (int) (init - elapsed % init);
        }
        return elapsed >= init ? 0 : (int) (init - elapsed);
    }

    /**
     * IA32_TSC_DEADLINE, already converted by the engine from TSC to guest nanoseconds; 0 disarms.
     * Ignored unless the LVT timer is in TSC-deadline mode (10.5.4.1). A deadline at or before now
     * fires on the caller's thread before this returns.
     */
    public void setTscDeadline(long guestNs) {
        boolean fireNow;
        synchronized (this) {
            if (timerMode() != TIMER_TSC_DEADLINE) {
                return;
            }
            tscDeadline = guestNs;
            timerDeadline = guestNs == 0 ? NOT_ARMED : guestNs;
            fireNow = guestNs != 0 && guestNs <= clock.nanos();
            if (guestNs == 0 || fireNow) {
                timer.cancel();
            } else {
                timer.arm(guestNs);
            }
        }
        if (fireNow) {
            timerExpired(guestNs); // already due: the interrupt is pending before the WRMSR retires
        }
    }

    /** The armed TSC deadline in guest ns; 0 when disarmed (also after it fired) or not in TSC-deadline mode. */
    public synchronized long tscDeadline() {
        return timerMode() == TIMER_TSC_DEADLINE ? tscDeadline : 0;
    }

    /** The guest time the APIC timer fires next, or {@link Long#MAX_VALUE}. */
    public synchronized long timerDeadline() {
        return timerDeadline == NOT_ARMED ? Long.MAX_VALUE : timerDeadline;
    }

    private void timerExpired(long deadline) {
        boolean wake;
        synchronized (this) {
            if (deadline != timerDeadline) {
                return; // stale: re-armed or disarmed after this firing was taken off the queue
            }
            int before = pendingVector;
            switch (timerMode()) {
                case TIMER_PERIODIC -> {
                    long period = firingPeriodNs();
                    long next = deadline + period;
                    long now = clock.nanos();
                    if (next <= now) {
                        next += (now - next) / period * period + period; // late: coalesce missed periods
                    }
                    timerStart = next - period;
                    timerDeadline = next;
                    timer.arm(next);
                }
                case TIMER_TSC_DEADLINE -> {
                    tscDeadline = 0;
                    timerDeadline = NOT_ARMED;
                }
                default -> timerDeadline = NOT_ARMED; // one-shot: current count stays 0
            }
            int l = lvt[LVT_TIMER];
            if ((l & LVT_MASKED) == 0) {
                acceptFixed(l & 0xFF, false);
            }
            publish();
            wake = pendingVector >= 0 && pendingVector != before;
        }
        if (wake) {
            wakeup.run();
        }
    }

    // ---------------------------------------------------------------- state

    @Override
    public LocalApicState saveState() {
        synchronized (this) {
            long now = clock.nanos();
            List<Integer> lvts = new ArrayList<>(lvt.length);
            for (int l : lvt) {
                lvts.add(l);
            }
            boolean armed = timerDeadline != NOT_ARMED;
            return new LocalApicState(id, apicBase, tpr, ldr, dfr, svr, esr, esrPending, icrLow, icrHigh, lvts,
                Bytes.ofInts(irr), Bytes.ofInts(isr), Bytes.ofInts(tmr), divideConfig, initialCount, armed,
                armed ? timerStart - now : 0, armed ? timerDeadline - now : 0, tscDeadline != 0,
                tscDeadline != 0 ? tscDeadline - now : 0, lint0Level, lint1Level, nmiPending.get(), extIntMessage);
        }
    }

    /**
     * Restores the registers and re-arms the timer on this machine's clock; the deliverable vector
     * is recomputed and a halted vCPU woken if one is pending.
     */
    @Override
    public void restoreState(LocalApicState s) throws DeviceStateException {
        DeviceStateException.checkBits(NAME, "IA32_APIC_BASE", s.apicBase(), BASE_VALID);
        if ((s.apicBase() & BASE_EXTD) != 0 && (s.apicBase() & BASE_ENABLE) == 0) {
            throw new DeviceStateException(NAME + ": IA32_APIC_BASE has x2APIC mode (EXTD) without EN");
        }
        if (((s.apicBase() & BASE_BSP) != 0) != bsp) {
            throw new DeviceStateException(NAME + ": IA32_APIC_BASE.BSP is " + ((s.apicBase() & BASE_BSP) != 0)
                + " in the state but this APIC's processor is " + (bsp ? "the BSP" : "an AP"));
        }
        DeviceStateException.checkRange(NAME, "TPR", s.tpr(), 0, 0xFF);
        DeviceStateException.checkBits(NAME, "SVR", s.svr(), 0x3FF);
        DeviceStateException.checkLength(NAME, "LVT", s.lvt().size(), lvt.length);
        for (int i = 0; i < lvt.length; i++) {
            DeviceStateException.checkBits(NAME, "LVT entry " + i, s.lvt().get(i) & 0xFFFF_FFFFL,
                LVT_WRITABLE[i] | LVT_MASKED);
        }
        DeviceStateException.checkLength(NAME, "IRR bytes", s.irr().length(), 32);
        DeviceStateException.checkLength(NAME, "ISR bytes", s.isr().length(), 32);
        DeviceStateException.checkLength(NAME, "TMR bytes", s.tmr().length(), 32);
        DeviceStateException.checkBits(NAME, "divide configuration", s.divideConfig(), 0xB);
        int mode = (s.lvt().get(LVT_TIMER) >> 17) & 3;
        if (s.timerArmed() && mode != TIMER_TSC_DEADLINE && s.initialCount() == 0) {
            throw new DeviceStateException(NAME + ": the timer is armed with an initial count of 0");
        }
        boolean wake;
        synchronized (this) {
            long now = clock.nanos();
            id = s.apicId();
            apicBase = s.apicBase();
            tpr = s.tpr();
            ldr = s.ldr();
            dfr = s.dfr();
            svr = s.svr();
            esr = s.esr();
            esrPending = s.esrPending();
            icrLow = s.icrLow();
            icrHigh = s.icrHigh();
            for (int i = 0; i < lvt.length; i++) {
                lvt[i] = s.lvt().get(i);
            }
            s.irr().intsInto(irr);
            s.isr().intsInto(isr);
            s.tmr().intsInto(tmr);
            divideConfig = s.divideConfig();
            divide = divisorOf(divideConfig);
            initialCount = s.initialCount();
            tscDeadline = s.tscDeadlineSet() ? now + s.tscDeadlineNs() : 0;
            if (s.timerArmed()) {
                timerStart = now + s.timerStartNs();
                timerDeadline = now + s.timerDeadlineNs();
                timer.arm(timerDeadline);
            } else {
                timerDeadline = NOT_ARMED;
                timer.cancel();
            }
            lint0Level = s.lint0();
            lint1Level = s.lint1();
            nmiPending.set(s.nmiPending());
            extIntMessage = s.extIntPending();
            publish();
            wake = hasPendingInterrupt() || s.nmiPending();
        }
        if (wake) {
            wakeup.run();
        }
    }

    @Override
    public Class<LocalApicState> stateType() {
        return LocalApicState.class;
    }

    // ---------------------------------------------------------------- inspection

    public synchronized boolean irrBit(int vector) {
        return test(irr, vector);
    }

    public synchronized boolean isrBit(int vector) {
        return test(isr, vector);
    }

    public synchronized boolean tmrBit(int vector) {
        return test(tmr, vector);
    }

    public synchronized int tpr() {
        return tpr;
    }

    public synchronized int processorPriority() {
        return ppr();
    }
}
