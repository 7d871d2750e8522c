package org.jvisor.devices.acpi;

import java.util.function.LongSupplier;

import org.jvisor.devices.PlatformControl;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.devices.timer.TimerQueue;
import org.jvisor.devices.timer.VirtualTimer;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * The fixed ACPI power-management registers of a PC (ACPI 6.5 ch. 4.8, as PIIX4's PM function
 * places them at I/O base 0x600): the PM1a event block (PM1_STS, PM1_EN), the PM1a control block
 * (PM1_CNT) and the PM timer. One {@link BusDevice} of {@link #SIZE} ports mapped at
 * {@link #PORT_BASE}; the FADT describes exactly these ports (the table builder reads the
 * constants below).
 *
 * <ul>
 *   <li>PM1_STS is write-1-to-clear; TMR_STS follows the timer's top bit, PWRBTN_STS is set by
 *       {@link #pressPowerButton()}.</li>
 *   <li>PM1_CNT.SCI_EN always reads 1: there is no SMI handshake, the FADT has SMI_CMD 0, so the
 *       machine is always in ACPI mode.</li>
 *   <li>Writing SLP_TYP = {@link #SLP_TYP_S5} with SLP_EN powers the machine off. Other sleep
 *       states are not offered (the DSDT has only \_S5) and are ignored.</li>
 *   <li>The PM timer is a free-running 32-bit counter at 3.579545 MHz (FADT TMR_VAL_EXT) computed
 *       from a nanosecond clock, so reading it never takes a lock.</li>
 *   <li>The SCI (ISA IRQ 9, level, active high per the MADT override) is asserted while an
 *       enabled status bit is set. TMR_STS sets when the timer's top bit changes (ACPI 6.5
 *       4.8.3.3, every 2^31 ticks, 10 minutes): with TMR_EN a guest timer waits for that moment
 *       and raises the SCI then (Linux leaves TMR_EN off; other systems count on the event).</li>
 * </ul>
 */
public final class AcpiPm implements BusDevice, StatefulDevice<AcpiPmState> {

    /** I/O port of the PM register block, as on QEMU's PIIX4/ICH9 PM. */
    public static final int PORT_BASE = 0x600;
    /** PM1a_EVT_BLK: PM1_STS (2 bytes) then PM1_EN (2 bytes). */
    public static final int PM1_EVT_OFFSET = 0;
    public static final int PM1_EVT_LEN = 4;
    /** PM1a_CNT_BLK: PM1_CNT (2 bytes). */
    public static final int PM1_CNT_OFFSET = 4;
    public static final int PM1_CNT_LEN = 2;
    /** PM_TMR_BLK: the 32-bit PM timer. */
    public static final int PM_TMR_OFFSET = 8;
    public static final int PM_TMR_LEN = 4;
    /** Ports the device answers, from {@link #PORT_BASE}. */
    public static final int SIZE = 12;

    public static final int PM1A_EVT_PORT = PORT_BASE + PM1_EVT_OFFSET;
    public static final int PM1A_CNT_PORT = PORT_BASE + PM1_CNT_OFFSET;
    public static final int PM_TMR_PORT = PORT_BASE + PM_TMR_OFFSET;

    /** The SCI: ISA IRQ 9 (GSI 9, level, active high). */
    public static final int SCI_IRQ = 9;
    /** SLP_TYP value of S5 (soft off); the DSDT's \_S5 package carries it. */
    public static final int SLP_TYP_S5 = 5;
    /** PM timer frequency in Hz. */
    public static final long PM_TIMER_HZ = 3_579_545L;

    // PM1_STS bits
    public static final int TMR_STS = 1;
    public static final int BM_STS = 1 << 4;
    public static final int GBL_STS = 1 << 5;
    public static final int PWRBTN_STS = 1 << 8;
    public static final int SLPBTN_STS = 1 << 9;
    public static final int RTC_STS = 1 << 10;
    public static final int WAK_STS = 1 << 15;
    // PM1_EN bits
    public static final int TMR_EN = 1;
    public static final int GBL_EN = 1 << 5;
    public static final int PWRBTN_EN = 1 << 8;
    public static final int SLPBTN_EN = 1 << 9;
    public static final int RTC_EN = 1 << 10;
    // PM1_CNT bits
    public static final int SCI_EN = 1;
    public static final int BM_RLD = 1 << 1;
    public static final int GBL_RLS = 1 << 2;
    public static final int SLP_TYP_SHIFT = 10;
    public static final int SLP_TYP_MASK = 7 << SLP_TYP_SHIFT;
    public static final int SLP_EN = 1 << 13;

    private static final int STS_STORED = PWRBTN_STS | SLPBTN_STS | WAK_STS | GBL_STS;
    private static final int EN_MASK = TMR_EN | GBL_EN | PWRBTN_EN | SLPBTN_EN | RTC_EN;
    private static final int CNT_STORED = BM_RLD | SLP_TYP_MASK;

    private static final String NAME = "ACPI PM";

    private final PlatformControl control;
    private final IrqLine sci;
    private final LongSupplier nanoClock;
    /** Fires at the timer's next top-bit change while TMR_EN is set and TMR_STS clear. */
    private final VirtualTimer overflow;

    /** Clock value at which the timer read 0. */
    private volatile long originNanos;
    private int sts;
    private int en;
    private int cnt;
    /** Number of TMR top-bit toggles seen when TMR_STS was last cleared. */
    private long tmrEpoch;
    private boolean sciLevel;

    /**
     * @param control where S5 goes (power off)
     * @param sci     the SCI line (GSI 9, level)
     * @param timers  the machine's guest-time timers: the PM timer counts on their clock, and the
     *                overflow event is one of them
     */
    public AcpiPm(PlatformControl control, IrqLine sci, TimerQueue timers) {
        this.control = control;
        this.sci = sci;
        this.nanoClock = timers.clock()::nanos;
        this.originNanos = nanoClock.getAsLong();
        this.overflow = timers.newTimer("acpi-pm-overflow", deadline -> overflowDue());
    }

    /** The overflow timer's deadline passed: TMR_STS is set now (or soon, if the clock rounded early). */
    private synchronized void overflowDue() {
        updateSci();
    }

    /** Power-on state: events disabled and clear, the timer restarted from 0. */
    public synchronized void reset() {
        sts = 0;
        en = 0;
        cnt = 0;
        originNanos = nanoClock.getAsLong();
        tmrEpoch = 0;
        updateSci();
    }

    /** The power button was pressed (e.g. a monitor's system_powerdown): PWRBTN_STS, SCI if enabled. */
    public synchronized void pressPowerButton() {
        sts |= PWRBTN_STS;
        updateSci();
    }

    /** Current PM timer ticks since reset (not truncated). */
    public long ticks() {
        long ns = nanoClock.getAsLong() - originNanos;
        if (ns < 0) {
            ns = 0;
        }
        // ns * f / 1e9 without overflowing for any realistic uptime.
        return (ns / 1_000_000_000L) * PM_TIMER_HZ + (ns % 1_000_000_000L) * PM_TIMER_HZ / 1_000_000_000L;
    }

    @Override
    public synchronized AcpiPmState saveState() {
        return new AcpiPmState(sts, en, cnt, nanoClock.getAsLong() - originNanos, tmrEpoch);
    }

    /** Restores the registers and the timer (rebased on this machine's clock); the SCI follows them. */
    @Override
    public synchronized void restoreState(AcpiPmState s) throws DeviceStateException {
        DeviceStateException.checkBits(NAME, "PM1_STS", s.status(), STS_STORED);
        DeviceStateException.checkBits(NAME, "PM1_EN", s.enable(), EN_MASK);
        DeviceStateException.checkBits(NAME, "PM1_CNT", s.control(), CNT_STORED);
        DeviceStateException.checkRange(NAME, "PM timer run time (ns)", s.timerRunningNs(), 0, Long.MAX_VALUE / 2);
        DeviceStateException.checkRange(NAME, "PM timer epoch", s.timerEpoch(), 0, Long.MAX_VALUE);
        sts = s.status();
        en = s.enable();
        cnt = s.control();
        originNanos = nanoClock.getAsLong() - s.timerRunningNs();
        tmrEpoch = s.timerEpoch();
        updateSci();
    }

    @Override
    public Class<AcpiPmState> stateType() {
        return AcpiPmState.class;
    }

    /** Whether the SCI is currently asserted. */
    public synchronized boolean sciAsserted() {
        return sciLevel;
    }

    @Override
    public long read(long offset, int size) {
        if (offset == PM_TMR_OFFSET && size == 4) {
            return ticks() & 0xFFFF_FFFFL; // the hot path: no lock
        }
        long timer = ticks();
        int s;
        int e;
        int c;
        synchronized (this) {
            s = statusBits(timer);
            e = en;
            c = cnt | SCI_EN;
        }
        long v = 0;
        for (int i = 0; i < size; i++) {
            int port = (int) offset + i;
            int b = switch (port) {
                case 0 -> s;
                case 1 -> s >>> 8;
                case 2 -> e;
                case 3 -> e >>> 8;
                case 4 -> c;
                case 5 -> c >>> 8;
                case 8, 9, 10, 11 -> (int) (timer >>> ((port - 8) * 8));
                default -> 0xFF;
            };
            v |= (long) (b & 0xFF) << (i * 8);
        }
        return v;
    }

    @Override
    public void write(long offset, int size, long value) {
        int stsVal = 0;
        int enVal = 0;
        int enMask = 0;
        int cntVal = 0;
        int cntMask = 0;
        for (int i = 0; i < size; i++) {
            int port = (int) offset + i;
            int b = (int) (value >>> (i * 8)) & 0xFF;
            switch (port) {
                case 0 -> stsVal |= b;
                case 1 -> stsVal |= b << 8;
                case 2 -> { enVal |= b; enMask |= 0xFF; }
                case 3 -> { enVal |= b << 8; enMask |= 0xFF00; }
                case 4 -> { cntVal |= b; cntMask |= 0xFF; }
                case 5 -> { cntVal |= b << 8; cntMask |= 0xFF00; }
                default -> { } // the timer is read-only
            }
        }
        int sleepType = -1;
        synchronized (this) {
            if (stsVal != 0) {
                sts &= ~stsVal;
                if ((stsVal & TMR_STS) != 0) {
                    tmrEpoch = ticks() >>> 31;
                }
            }
            if (enMask != 0) {
                en = (en & ~enMask) | (enVal & enMask & EN_MASK);
            }
            if (cntMask != 0) {
                cnt = (cnt & ~cntMask) | (cntVal & cntMask & CNT_STORED);
                if ((cntVal & cntMask & SLP_EN) != 0) {
                    sleepType = (cnt & SLP_TYP_MASK) >>> SLP_TYP_SHIFT;
                }
            }
            updateSci();
        }
        if (sleepType == SLP_TYP_S5) {
            control.powerOff("ACPI: guest entered S5 (PM1_CNT SLP_TYP=5, SLP_EN)");
        }
    }

    private int statusBits(long timer) {
        int s = sts;
        if ((timer >>> 31) != tmrEpoch) {
            s |= TMR_STS;
        }
        return s;
    }

    /** The SCI follows the enabled status bits, TMR_STS included; the overflow timer is armed for the next one. */
    private void updateSci() {
        long timer = ticks();
        int s = statusBits(timer);
        boolean level = (s & en & (STS_STORED | TMR_STS)) != 0;
        if (level != sciLevel) {
            sciLevel = level;
            sci.set(level);
        }
        if ((en & TMR_EN) != 0 && (s & TMR_STS) == 0) {
            // the first tick with a new top bit, and the first nanosecond at which ticks() reads it
            long tick = (tmrEpoch + 1) << 31;
            long ns = (tick / PM_TIMER_HZ) * 1_000_000_000L
                + ((tick % PM_TIMER_HZ) * 1_000_000_000L + PM_TIMER_HZ - 1) / PM_TIMER_HZ;
            overflow.arm(originNanos + ns);
        } else {
            overflow.cancel();
        }
    }
}
