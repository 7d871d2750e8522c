package org.jvisor.devices.legacy;

import java.time.DateTimeException;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.devices.timer.Clock;
import org.jvisor.devices.timer.TimerQueue;
import org.jvisor.devices.timer.VirtualTimer;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * The MC146818A real-time clock and its CMOS RAM (Motorola MC146818A data sheet) at ports
 * 0x70 (index, bit 7 = NMI disable) and 0x71 (data). Registers 0-9 are the time and alarm,
 * A-D the control and status registers; 0x0E-0x7F are battery-backed RAM holding, among others,
 * the BIOS memory-size fields that firmware and old loaders read.
 *
 * <p>Time starts at the host's wall clock (UTC, given at construction) and then advances with the
 * guest {@link Clock}; updates happen at whole guest seconds from that start. UIP is high during
 * the 244 µs before each update. The update-ended, alarm and periodic flags of register C are
 * computed from the clock when needed, and a {@link VirtualTimer} fires only for the interrupts the
 * guest enabled (IRQ8, raised when IRQF sets, lowered when register C is read).
 */
public final class RtcCmos implements BusDevice, StatefulDevice<RtcState> {
    public static final int REG_SECONDS = 0x00, REG_SECONDS_ALARM = 0x01, REG_MINUTES = 0x02,
        REG_MINUTES_ALARM = 0x03, REG_HOURS = 0x04, REG_HOURS_ALARM = 0x05, REG_DAY_OF_WEEK = 0x06,
        REG_DAY = 0x07, REG_MONTH = 0x08, REG_YEAR = 0x09, REG_A = 0x0A, REG_B = 0x0B, REG_C = 0x0C,
        REG_D = 0x0D, REG_CENTURY = 0x32;
    /** The index and data ports, 0x70-0x71 (no extended bank at 0x72-0x73), and the ISA IRQ. */
    public static final int PORT_BASE = 0x70, PORTS = 2, IRQ = 8;

    // Register A
    private static final int A_UIP = 0x80;
    private static final int A_DV_NORMAL = 0x20;
    // Register B
    public static final int B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_SQWE = 0x08,
        B_DM_BINARY = 0x04, B_24H = 0x02, B_DSE = 0x01;
    // Register C
    public static final int C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10;

    private static final long NS_PER_S = 1_000_000_000L;
    private static final String NAME = "MC146818A RTC";
    /** UIP goes high this long before an update (data sheet: 244 µs with a 32.768 kHz time base). */
    static final long UIP_LEAD_NS = 244_000;

    private final Clock clock;
    private final IrqLine irq;
    private final VirtualTimer timer;
    private final byte[] cmos = new byte[128];
    private int index;
    private boolean nmiDisabled;
    /** Epoch second (UTC) that the guest clock's {@link #baseNs} corresponds to. */
    private long baseSeconds;
    private long baseNs;
    /** Flags of register C accounted up to this update number / periodic tick number. */
    private long flagsUpdate;
    private long flagsPeriod;
    private boolean irqLevel;
    private long armedAt = Long.MIN_VALUE;

    /**
     * @param startEpochSecond wall-clock time (UTC) the RTC shows at guest time 0 (normally now)
     * @param ramBelow4g guest RAM below 4 GiB in bytes (CMOS 0x15-0x18, 0x30-0x31, 0x34-0x35)
     * @param ramAbove4g guest RAM above 4 GiB in bytes (CMOS 0x5B-0x5D)
     */
    public RtcCmos(TimerQueue timers, long startEpochSecond, long ramBelow4g, long ramAbove4g, IrqLine irq8) {
        this.clock = timers.clock();
        this.irq = irq8;
        this.timer = timers.newTimer("rtc", this::timerExpired);
        this.baseSeconds = startEpochSecond - Math.floorDiv(clock.nanos(), NS_PER_S);
        this.baseNs = clock.nanos() - Math.floorMod(clock.nanos(), NS_PER_S);
        cmos[REG_A] = 0x26; // 32.768 kHz divider, 1024 Hz periodic rate
        cmos[REG_B] = B_24H;
        cmos[REG_D] = (byte) 0x80; // valid RAM and time
        fillMemorySize(ramBelow4g, ramAbove4g);
        int year = LocalDateTime.ofEpochSecond(startEpochSecond, 0, ZoneOffset.UTC).getYear();
        cmos[REG_CENTURY] = (byte) toBcd(year / 100);
        resyncFlags(clock.nanos());
    }

    /**
     * The memory fields the PC BIOS keeps in CMOS (as QEMU fills them): base memory 640 KiB
     * (0x15/0x16), extended memory above 1 MiB in KiB capped at 0xFFFF (0x17/0x18 and 0x30/0x31),
     * memory between 16 MiB and 4 GiB in 64 KiB units (0x34/0x35) and above 4 GiB in 64 KiB units
     * (0x5B-0x5D); then the standard checksum over 0x10-0x2D at 0x2E/0x2F.
     */
    private void fillMemorySize(long below4g, long above4g) {
        cmos[0x15] = (byte) 0x80;
        cmos[0x16] = 0x02;
        long ext = Math.min(Math.max(below4g / 1024 - 1024, 0), 0xFFFF);
        cmos[0x17] = (byte) ext;
        cmos[0x18] = (byte) (ext >> 8);
        cmos[0x30] = (byte) ext;
        cmos[0x31] = (byte) (ext >> 8);
        long high = Math.min(Math.max((below4g - (16L << 20)) >> 16, 0), 0xFFFF);
        cmos[0x34] = (byte) high;
        cmos[0x35] = (byte) (high >> 8);
        long above = Math.min(above4g >> 16, 0xFF_FFFF);
        cmos[0x5B] = (byte) above;
        cmos[0x5C] = (byte) (above >> 8);
        cmos[0x5D] = (byte) (above >> 16);
        cmos[0x14] = 0x02; // equipment: math coprocessor, no floppy, VGA
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++) {
            sum += cmos[i] & 0xFF;
        }
        cmos[0x2E] = (byte) (sum >> 8);
        cmos[0x2F] = (byte) sum;
    }

    /**
     * The RESET pin (machine reset): clears PIE, AIE, UIE, SQWE and register C, lowering IRQ8. Time
     * and CMOS RAM are battery-backed and survive (data sheet, "RESET").
     */
    public synchronized void reset() {
        cmos[REG_B] &= (byte) ~(B_PIE | B_AIE | B_UIE | B_SQWE);
        cmos[REG_C] = 0;
        index = 0;
        nmiDisabled = false;
        setIrq(false);
        resyncFlags(clock.nanos());
        reschedule(clock.nanos());
    }

    /** Registers ports 0x70-0x71. */
    public void registerPorts(AddressSpace io) {
        io.register("rtc", PORT_BASE, PORTS, this);
    }

    /** Whether the guest disabled NMIs (port 0x70 bit 7). */
    public synchronized boolean nmiDisabled() {
        return nmiDisabled;
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset == 0) {
            return 0xFF; // the index register is write-only
        }
        return readRegister(index, clock.nanos());
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) value & 0xFF;
        if (offset == 0) {
            index = v & 0x7F;
            nmiDisabled = (v & 0x80) != 0;
        } else {
            writeRegister(index, v, clock.nanos());
        }
    }

    /** Reads CMOS byte {@code reg} as the guest would (for tests and firmware tables). */
    public synchronized int readRegister(int reg) {
        return readRegister(reg, clock.nanos());
    }

    public synchronized void writeRegister(int reg, int v) {
        writeRegister(reg, v, clock.nanos());
    }

    private boolean binary() {
        return (cmos[REG_B] & B_DM_BINARY) != 0;
    }

    private boolean frozen() {
        return (cmos[REG_B] & B_SET) != 0 || (cmos[REG_A] & 0x70) != A_DV_NORMAL;
    }

    private int encode(int v) {
        return binary() ? v : toBcd(v);
    }

    private int decode(int v) {
        return binary() ? v : fromBcd(v);
    }

    private static int toBcd(int v) {
        return (v / 10) << 4 | v % 10;
    }

    private static int fromBcd(int v) {
        return (v >> 4) * 10 + (v & 0xF);
    }

    private long currentSeconds(long now) {
        return baseSeconds + Math.floorDiv(now - baseNs, NS_PER_S);
    }

    private int readRegister(int reg, long now) {
        switch (reg) {
            case REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY_OF_WEEK, REG_DAY, REG_MONTH, REG_YEAR -> {
                if (frozen()) {
                    return cmos[reg] & 0xFF; // SET: the registers hold what the guest wrote
                }
                return timeField(reg, LocalDateTime.ofEpochSecond(currentSeconds(now), 0, ZoneOffset.UTC));
            }
            case REG_A -> {
                int v = cmos[REG_A] & 0x7F;
                if (!frozen() && Math.floorMod(now - baseNs, NS_PER_S) >= NS_PER_S - UIP_LEAD_NS) {
                    v |= A_UIP;
                }
                return v;
            }
            case REG_C -> {
                syncFlags(now);
                int v = cmos[REG_C] & 0xFF;
                cmos[REG_C] = 0; // reading C clears all flags (data sheet, "Register C")
                setIrq(false);
                return v;
            }
            default -> {
                return cmos[reg & 0x7F] & 0xFF;
            }
        }
    }

    private int timeField(int reg, LocalDateTime t) {
        return switch (reg) {
            case REG_SECONDS -> encode(t.getSecond());
            case REG_MINUTES -> encode(t.getMinute());
            case REG_HOURS -> {
                int h = t.getHour();
                if ((cmos[REG_B] & B_24H) != 0) {
                    yield encode(h);
                }
                int h12 = h % 12 == 0 ? 12 : h % 12;
                yield encode(h12) | (h >= 12 ? 0x80 : 0);
            }
            case REG_DAY_OF_WEEK -> encode(t.getDayOfWeek().getValue() % 7 + 1); // Sunday = 1
            case REG_DAY -> encode(t.getDayOfMonth());
            case REG_MONTH -> encode(t.getMonthValue());
            default -> encode(t.getYear() % 100);
        };
    }

    /** Writes the current time into registers 0-9 (when the guest sets SET or stops the divider). */
    private void freezeImage(long now) {
        LocalDateTime t = LocalDateTime.ofEpochSecond(currentSeconds(now), 0, ZoneOffset.UTC);
        for (int reg : new int[] {REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY_OF_WEEK, REG_DAY, REG_MONTH, REG_YEAR}) {
            cmos[reg] = (byte) timeField(reg, t);
        }
    }

    /** The date in registers 0-9 (and the century byte) as an epoch second, or null if invalid. */
    private Long parseImage() {
        try {
            int hourReg = cmos[REG_HOURS] & 0xFF;
            int hour;
            if ((cmos[REG_B] & B_24H) != 0) {
                hour = decode(hourReg);
            } else {
                hour = decode(hourReg & 0x7F) % 12 + ((hourReg & 0x80) != 0 ? 12 : 0);
            }
            int century = fromBcd(cmos[REG_CENTURY] & 0xFF);
            int year = century * 100 + decode(cmos[REG_YEAR] & 0xFF);
            LocalDateTime t = LocalDateTime.of(year, decode(cmos[REG_MONTH] & 0xFF), decode(cmos[REG_DAY] & 0xFF),
                hour, decode(cmos[REG_MINUTES] & 0xFF), decode(cmos[REG_SECONDS] & 0xFF));
            return t.toEpochSecond(ZoneOffset.UTC);
        } catch (DateTimeException e) {
            return null;
        }
    }

    private void writeRegister(int reg, int v, long now) {
        switch (reg) {
            case REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY_OF_WEEK, REG_DAY, REG_MONTH, REG_YEAR -> {
                if (frozen()) {
                    cmos[reg] = (byte) v;
                    return;
                }
                // Running clock: change one field and keep counting from there (sub-second phase kept).
                syncFlags(now);
                freezeImage(now);
                cmos[reg] = (byte) v;
                Long s = parseImage();
                if (s != null) {
                    long phase = Math.floorMod(now - baseNs, NS_PER_S);
                    baseNs = now - phase;
                    baseSeconds = s;
                    resyncFlags(now);
                }
            }
            case REG_A -> {
                boolean wasFrozen = frozen();
                if (!wasFrozen) {
                    freezeImage(now);
                }
                cmos[REG_A] = (byte) (v & 0x7F);
                restartIfThawed(wasFrozen, now);
            }
            case REG_B -> {
                boolean wasFrozen = frozen();
                syncFlags(now);
                if ((v & B_SET) != 0) {
                    v &= ~B_UIE; // setting SET clears UIE (data sheet, "Register B")
                    if (!wasFrozen) {
                        freezeImage(now);
                    }
                }
                cmos[REG_B] = (byte) v;
                restartIfThawed(wasFrozen, now);
                updateIrq();
            }
            case REG_C, REG_D -> {
                // read-only
            }
            default -> cmos[reg & 0x7F] = (byte) v;
        }
        reschedule(now);
    }

    /** SET cleared (or the divider restarted): time continues from registers 0-9, the next update 1 s later. */
    private void restartIfThawed(boolean wasFrozen, long now) {
        if (wasFrozen && !frozen()) {
            Long s = parseImage();
            if (s != null) {
                baseSeconds = s;
            } else {
                baseSeconds = currentSeconds(now);
            }
            baseNs = now;
            resyncFlags(now);
        }
    }

    // ---- flags and interrupts ----

    private long periodNs() {
        int rs = cmos[REG_A] & 0x0F;
        if (rs == 0) {
            return 0;
        }
        // Table 5 of the data sheet for a 32.768 kHz base: rates 1 and 2 alias 8 and 9.
        long cycles = rs <= 2 ? 1L << (rs + 6) : 1L << (rs - 1);
        return cycles * NS_PER_S / 32768;
    }

    private void resyncFlags(long now) {
        flagsUpdate = Math.floorDiv(now - baseNs, NS_PER_S);
        long p = periodNs();
        flagsPeriod = p == 0 ? 0 : Math.floorDiv(now - baseNs, p);
    }

    /** Brings register C up to {@code now}: UF per update, AF when an update matched the alarm, PF per tick. */
    private void syncFlags(long now) {
        if (frozen()) {
            resyncFlags(now);
            return;
        }
        long update = Math.floorDiv(now - baseNs, NS_PER_S);
        if (update > flagsUpdate) {
            int c = C_UF;
            long from = Math.max(flagsUpdate + 1, update - 86_400);
            for (long u = from; u <= update; u++) {
                if (alarmMatches(baseSeconds + u)) {
                    c |= C_AF;
                    break;
                }
            }
            cmos[REG_C] |= (byte) c;
            flagsUpdate = update;
        }
        long p = periodNs();
        if (p != 0) {
            long tick = Math.floorDiv(now - baseNs, p);
            if (tick > flagsPeriod) {
                cmos[REG_C] |= C_PF;
                flagsPeriod = tick;
            }
        }
        updateIrq();
    }

    /** Alarm bytes with bits 7:6 set are "don't care" (data sheet, "Alarm"). */
    private boolean alarmMatches(long epochSecond) {
        LocalDateTime t = LocalDateTime.ofEpochSecond(epochSecond, 0, ZoneOffset.UTC);
        return alarmField(REG_SECONDS_ALARM, timeField(REG_SECONDS, t))
            && alarmField(REG_MINUTES_ALARM, timeField(REG_MINUTES, t))
            && alarmField(REG_HOURS_ALARM, timeField(REG_HOURS, t));
    }

    private boolean alarmField(int reg, int current) {
        int a = cmos[reg] & 0xFF;
        return (a & 0xC0) == 0xC0 || a == current;
    }

    private void updateIrq() {
        int c = cmos[REG_C] & 0x70;
        int enabled = cmos[REG_B] & (B_PIE | B_AIE | B_UIE); // PIE/AIE/UIE sit at the bits of PF/AF/UF
        if ((c & enabled) != 0) {
            cmos[REG_C] |= (byte) C_IRQF;
        }
        setIrq((cmos[REG_C] & C_IRQF) != 0);
    }

    private void setIrq(boolean level) {
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    /** Arms the timer for the next event that can raise IRQF, if any interrupt is enabled. */
    private void reschedule(long now) {
        int b = cmos[REG_B];
        long next = Long.MAX_VALUE;
        if (!frozen()) {
            if ((b & (B_UIE | B_AIE)) != 0) {
                next = baseNs + (Math.floorDiv(now - baseNs, NS_PER_S) + 1) * NS_PER_S;
            }
            long p = periodNs();
            if ((b & B_PIE) != 0 && p != 0) {
                next = Math.min(next, baseNs + (Math.floorDiv(now - baseNs, p) + 1) * p);
            }
        }
        if (next == Long.MAX_VALUE) {
            armedAt = Long.MIN_VALUE;
            timer.cancel();
        } else if (next != armedAt) {
            armedAt = next;
            timer.arm(next);
        }
    }

    private synchronized void timerExpired(long deadline) {
        if (deadline != armedAt) {
            return; // stale
        }
        armedAt = Long.MIN_VALUE;
        long now = Math.max(deadline, clock.nanos());
        syncFlags(now);
        reschedule(now);
    }

    // ---- state ----

    @Override
    public synchronized RtcState saveState() {
        return new RtcState(Bytes.copyOf(cmos), index, nmiDisabled, baseSeconds, clock.nanos() - baseNs, flagsUpdate,
            flagsPeriod);
    }

    /**
     * Restores the CMOS and the clock, rebased on this machine's guest clock; IRQ8 follows
     * register C's IRQF and the timer is armed for the next enabled event.
     */
    @Override
    public synchronized void restoreState(RtcState s) throws DeviceStateException {
        DeviceStateException.checkLength(NAME, "CMOS", s.cmos().length(), cmos.length);
        DeviceStateException.checkRange(NAME, "index", s.index(), 0, 0x7F);
        DeviceStateException.checkRange(NAME, "time since the clock's origin (ns)", s.sinceBaseNs(), 0, Long.MAX_VALUE / 2);
        long now = clock.nanos();
        s.cmos().copyTo(cmos, 0);
        index = s.index();
        nmiDisabled = s.nmiDisabled();
        baseSeconds = s.baseSeconds();
        baseNs = now - s.sinceBaseNs();
        flagsUpdate = s.updatesAccounted();
        flagsPeriod = s.periodsAccounted();
        setIrq((cmos[REG_C] & C_IRQF) != 0);
        armedAt = Long.MIN_VALUE;
        reschedule(now);
    }

    @Override
    public Class<RtcState> stateType() {
        return RtcState.class;
    }

    /** Whether IRQ8 is asserted (IRQF). */
    public synchronized boolean irqAsserted() {
        return irqLevel;
    }
}
