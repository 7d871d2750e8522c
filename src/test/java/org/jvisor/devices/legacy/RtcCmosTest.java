package org.jvisor.devices.legacy;

import java.time.LocalDateTime;
import java.time.ZoneOffset;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.devices.timer.ManualClock;
import org.jvisor.devices.timer.TimerQueue;

import static org.jvisor.devices.legacy.RtcCmos.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RtcCmosTest {
    private static final long S = 1_000_000_000L;
    /** Thursday 2024-02-29 23:59:58 UTC. */
    private static final long START = LocalDateTime.of(2024, 2, 29, 23, 59, 58).toEpochSecond(ZoneOffset.UTC);

    private final ManualClock clock = new ManualClock();
    private final TimerQueue timers = new TimerQueue(clock);
    private boolean irq;
    private int irqEdges;
    private RtcCmos rtc;

    @BeforeEach
    void setUp() {
        rtc = new RtcCmos(timers, START, 3L << 30, 5L << 30, level -> {
            if (level && !irq) {
                irqEdges++;
            }
            irq = level;
        });
    }

    private int cmos(int reg) {
        rtc.write(0, 1, reg);
        return (int) rtc.read(1, 1);
    }

    private void cmos(int reg, int v) {
        rtc.write(0, 1, reg);
        rtc.write(1, 1, v);
    }

    @Test
    void bcdTimeAndDateAdvanceWithTheClock() {
        assertEquals(0x58, cmos(REG_SECONDS));
        assertEquals(0x59, cmos(REG_MINUTES));
        assertEquals(0x23, cmos(REG_HOURS));
        assertEquals(0x05, cmos(REG_DAY_OF_WEEK), "Thursday (Sunday = 1)");
        assertEquals(0x29, cmos(REG_DAY));
        assertEquals(0x02, cmos(REG_MONTH));
        assertEquals(0x24, cmos(REG_YEAR));
        assertEquals(0x20, cmos(REG_CENTURY));
        timers.advanceTo(2 * S);
        assertEquals(0x00, cmos(REG_SECONDS));
        assertEquals(0x00, cmos(REG_HOURS));
        assertEquals(0x01, cmos(REG_DAY));
        assertEquals(0x03, cmos(REG_MONTH), "leap day rolls over to March 1st");
        assertEquals(0x06, cmos(REG_DAY_OF_WEEK));
    }

    @Test
    void binaryAnd12HourModes() {
        cmos(REG_B, B_24H | B_DM_BINARY);
        assertEquals(58, cmos(REG_SECONDS));
        assertEquals(23, cmos(REG_HOURS));
        assertEquals(29, cmos(REG_DAY));
        cmos(REG_B, 0); // BCD, 12-hour
        assertEquals(0x91, cmos(REG_HOURS), "11 PM: BCD 11 with bit 7");
    }

    @Test
    void registerDIsValidAndAHasTheNormalDivider() {
        assertEquals(0x80, cmos(REG_D));
        assertEquals(0x26, cmos(REG_A));
    }

    @Test
    void uipIsHighJustBeforeAnUpdate() {
        timers.advanceTo(S / 2);
        assertEquals(0, cmos(REG_A) & 0x80);
        timers.advanceTo(S - 100_000);
        assertEquals(0x80, cmos(REG_A) & 0x80);
        assertEquals(0x58, cmos(REG_SECONDS), "the update has not happened yet");
        timers.advanceTo(S);
        assertEquals(0, cmos(REG_A) & 0x80);
        assertEquals(0x59, cmos(REG_SECONDS));
    }

    @Test
    void updateEndedInterruptAndRegisterCReadClears() {
        cmos(REG_B, B_24H | B_UIE);
        timers.advanceTo(S - 1);
        assertFalse(irq);
        timers.advanceTo(S);
        assertTrue(irq);
        assertEquals(C_IRQF | C_UF, cmos(REG_C) & ~C_PF, "PF sets at the periodic rate even with PIE off");
        assertFalse(irq);
        assertEquals(0, cmos(REG_C) & ~C_PF);
        timers.advanceTo(3 * S);
        assertEquals(2, irqEdges, "IRQF stays set until C is read: one edge for two updates");
        assertEquals(C_IRQF | C_UF | C_AF, cmos(REG_C) & ~C_PF, "AF too: midnight matched the zero alarm");
    }

    @Test
    void updateFlagWithoutInterruptCanBePolled() {
        timers.advanceTo(S + 5);
        assertEquals(C_UF | C_PF, cmos(REG_C));
        cmos(REG_A, 0x20); // periodic rate 0: no PF
        timers.advanceTo(2 * S + 5);
        assertEquals(C_UF | C_AF, cmos(REG_C), "00:00:00 matches the alarm registers' 0:0:0");
        timers.advanceTo(3 * S + 5);
        assertEquals(C_UF, cmos(REG_C));
        assertFalse(irq);
    }

    @Test
    void periodicInterruptAt1024Hz() {
        cmos(REG_B, B_24H | B_PIE);
        long period = 1024L * S / 1024 / 1024; // 976562 ns
        timers.advanceTo(period - 1);
        assertFalse(irq);
        timers.advanceTo(period + 1);
        assertTrue(irq);
        assertEquals(C_IRQF | C_PF, cmos(REG_C));
    }

    @Test
    void alarmInterrupt() {
        cmos(REG_SECONDS_ALARM, 0x02);
        cmos(REG_MINUTES_ALARM, 0xC0); // don't care
        cmos(REG_HOURS_ALARM, 0xFF);
        cmos(REG_B, B_24H | B_AIE);
        timers.advanceTo(3 * S);
        assertFalse(irq, "23:59:59, 00:00:00, 00:00:01");
        timers.advanceTo(4 * S);
        assertTrue(irq);
        assertEquals(C_IRQF | C_AF | C_UF, cmos(REG_C) & ~C_PF);
    }

    @Test
    void setBitFreezesAndWritesTheTime() {
        cmos(REG_B, B_24H | B_SET);
        cmos(REG_HOURS, 0x12);
        cmos(REG_MINUTES, 0x34);
        cmos(REG_SECONDS, 0x56);
        cmos(REG_DAY, 0x15);
        cmos(REG_MONTH, 0x06);
        cmos(REG_YEAR, 0x30);
        timers.advanceTo(10 * S);
        assertEquals(0x56, cmos(REG_SECONDS), "frozen while SET");
        cmos(REG_B, B_24H);
        timers.advanceTo(11 * S);
        assertEquals(0x57, cmos(REG_SECONDS));
        assertEquals(0x34, cmos(REG_MINUTES));
        assertEquals(0x15, cmos(REG_DAY));
        assertEquals(0x30, cmos(REG_YEAR));
    }

    @Test
    void memorySizeFieldsAndChecksum() {
        // 3 GiB below 4 GiB: (3072 - 16) MiB in 64 KiB units = 0xBF00; 5 GiB above: 0x014000.
        assertEquals(0x00, rtc.readRegister(0x34));
        assertEquals(0xBF, rtc.readRegister(0x35));
        assertEquals(0x00, rtc.readRegister(0x5B));
        assertEquals(0x40, rtc.readRegister(0x5C));
        assertEquals(0x01, rtc.readRegister(0x5D));
        assertEquals(0xFFFF, rtc.readRegister(0x30) | rtc.readRegister(0x31) << 8, "extended memory capped");
        assertEquals(640, rtc.readRegister(0x15) | rtc.readRegister(0x16) << 8);
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++) {
            sum += rtc.readRegister(i);
        }
        assertEquals(sum, rtc.readRegister(0x2E) << 8 | rtc.readRegister(0x2F));
    }

    @Test
    void resetClearsInterruptEnablesButKeepsTime() {
        cmos(REG_B, B_24H | B_UIE | B_PIE);
        timers.advanceTo(S);
        assertTrue(irq);
        rtc.reset();
        assertFalse(irq);
        assertEquals(B_24H, cmos(REG_B));
        timers.advanceTo(5 * S);
        assertFalse(irq);
        assertEquals(0x03, cmos(REG_SECONDS), "time kept running");
    }

    @Test
    void cmosRamAndNmiMask() {
        cmos(0x50, 0xA5);
        assertEquals(0xA5, cmos(0x50));
        rtc.write(0, 1, 0x80 | 0x50);
        assertTrue(rtc.nmiDisabled());
        assertEquals(0xA5, rtc.read(1, 1));
        rtc.write(0, 1, 0x0F);
        assertFalse(rtc.nmiDisabled());
    }
}
