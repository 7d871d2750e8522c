package org.jvisor.devices.acpi;

import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.devices.timer.ManualClock;
import org.jvisor.devices.timer.TimerQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Drives the PM registers as ACPICA does (16-bit PM1 accesses, 32-bit timer reads). */
class AcpiPmTest {
    private static final int STS = AcpiPm.PM1_EVT_OFFSET;
    private static final int EN = AcpiPm.PM1_EVT_OFFSET + 2;
    private static final int CNT = AcpiPm.PM1_CNT_OFFSET;
    private static final int TMR = AcpiPm.PM_TMR_OFFSET;

    private final RecordingControl control = new RecordingControl();
    private final ManualClock clock = new ManualClock(1_000_000L); // the clock does not start at 0
    private final TimerQueue timers = new TimerQueue(clock);
    private boolean sci;
    private int sciChanges;
    private AcpiPm pm;

    @BeforeEach
    void setUp() {
        pm = new AcpiPm(control, level -> {
            sci = level;
            sciChanges++;
        }, timers);
    }

    /** Guest time moves on by {@code ns}, firing the timers due on the way. */
    private void advance(long ns) {
        timers.advanceTo(clock.nanos() + ns);
    }

    private int r16(int off) {
        return (int) pm.read(off, 2);
    }

    private void w16(int off, int v) {
        pm.write(off, 2, v);
    }

    @Test
    void portsMatchQemusPiix4Layout() {
        assertEquals(0x600, AcpiPm.PM1A_EVT_PORT);
        assertEquals(0x604, AcpiPm.PM1A_CNT_PORT);
        assertEquals(0x608, AcpiPm.PM_TMR_PORT);
        assertEquals(12, AcpiPm.SIZE);
    }

    @Test
    void sciEnIsAlwaysSet() {
        assertEquals(AcpiPm.SCI_EN, r16(CNT) & AcpiPm.SCI_EN);
        w16(CNT, 0);
        assertEquals(AcpiPm.SCI_EN, r16(CNT) & AcpiPm.SCI_EN, "always in ACPI mode");
    }

    @Test
    void s5WithSlpEnPowersOff() {
        // ACPICA writes SLP_TYP first, then SLP_TYP | SLP_EN.
        w16(CNT, (AcpiPm.SLP_TYP_S5 << AcpiPm.SLP_TYP_SHIFT) | AcpiPm.SCI_EN);
        assertEquals(List.of(), control.calls);
        assertEquals(AcpiPm.SLP_TYP_S5, (r16(CNT) & AcpiPm.SLP_TYP_MASK) >> AcpiPm.SLP_TYP_SHIFT);
        w16(CNT, (AcpiPm.SLP_TYP_S5 << AcpiPm.SLP_TYP_SHIFT) | AcpiPm.SLP_EN | AcpiPm.SCI_EN);
        assertEquals(List.of("powerOff"), control.calls);
        assertEquals(0, r16(CNT) & AcpiPm.SLP_EN, "SLP_EN is write-only");
    }

    @Test
    void linuxPowerOffSequencePowersOff() {
        // What Linux 6.1 (ACPICA acpi_hw_legacy_sleep) wrote to PM1_CNT when traced under QEMU
        // with these tables, where the port read as 0xFFFF: SLP_TYP=5 first, then with SLP_EN.
        w16(CNT, 0xD7FB);
        assertEquals(List.of(), control.calls);
        w16(CNT, 0xF7FB);
        assertEquals(List.of("powerOff"), control.calls);
    }

    @Test
    void s5ByteWritesToTheHighByteAlsoPowerOff() {
        pm.write(CNT + 1, 1, ((AcpiPm.SLP_TYP_S5 << AcpiPm.SLP_TYP_SHIFT) | AcpiPm.SLP_EN) >> 8);
        assertEquals(List.of("powerOff"), control.calls);
    }

    @Test
    void otherSleepStatesAreIgnored() {
        for (int typ = 0; typ < 8; typ++) {
            if (typ != AcpiPm.SLP_TYP_S5) {
                w16(CNT, (typ << AcpiPm.SLP_TYP_SHIFT) | AcpiPm.SLP_EN);
            }
        }
        assertEquals(List.of(), control.calls);
    }

    @Test
    void timerCountsAt3579545Hz() {
        long t0 = pm.read(TMR, 4);
        assertEquals(0, t0);
        advance(1_000_000_000L);
        assertEquals(3_579_545L, pm.read(TMR, 4));
        advance(1_000L); // 1 us = 3.58 ticks
        assertEquals(3_579_548L, pm.read(TMR, 4));
    }

    @Test
    void timerIs32BitsWideAndWraps() {
        advance(1_200_000_000_000L); // 20 minutes: 4.29e9 ticks, just past 2^32
        long ticks = pm.ticks();
        assertTrue(ticks > 0xFFFF_FFFFL);
        assertEquals(ticks & 0xFFFF_FFFFL, pm.read(TMR, 4));
        // No overflow in the conversion even after a year of uptime.
        advance(365L * 24 * 3600 * 1_000_000_000L);
        assertTrue(pm.ticks() > ticks);
    }

    @Test
    void timerReadsByteWiseAgree() {
        advance(123_456_789L);
        long whole = pm.read(TMR, 4);
        long bytes = 0;
        for (int i = 0; i < 4; i++) {
            bytes |= pm.read(TMR + i, 1) << (8 * i);
        }
        assertEquals(whole, bytes);
        assertEquals(whole & 0xFFFF, pm.read(TMR, 2));
        pm.write(TMR, 4, 0);
        assertEquals(whole, pm.read(TMR, 4), "the timer is read-only");
    }

    @Test
    void timerOverflowSetsTmrStsUntilCleared() {
        assertEquals(0, r16(STS) & AcpiPm.TMR_STS);
        advance(600_000_000_000L); // 2.1e9 ticks: bit 31 flips
        assertEquals(AcpiPm.TMR_STS, r16(STS) & AcpiPm.TMR_STS);
        w16(STS, AcpiPm.TMR_STS);
        assertEquals(0, r16(STS) & AcpiPm.TMR_STS);
    }

    /**
     * With TMR_EN the overflow raises the SCI when the top bit changes, without the guest reading
     * anything (ACPI 6.5 4.8.3.3), and clearing TMR_STS drops it until the next change, 2^31 ticks on.
     */
    @Test
    void timerOverflowRaisesTheSciWhenEnabled() {
        w16(EN, AcpiPm.TMR_EN);
        long toggle = (1L << 31) * 1_000_000_000L / AcpiPm.PM_TIMER_HZ; // ~599.9 s
        advance(toggle - 1_000_000L);
        assertFalse(sci, "a millisecond before bit 31 changes");
        assertEquals(1, timers.armedCount(), "one timer waits for the overflow");
        advance(2_000_000L);
        assertTrue(sci, "the overflow timer raised the SCI by itself");
        assertEquals(AcpiPm.TMR_STS, r16(STS) & AcpiPm.TMR_STS);
        assertEquals(0, timers.armedCount(), "nothing to wait for while TMR_STS is set");
        w16(STS, AcpiPm.TMR_STS);
        assertFalse(sci);
        advance(toggle - 2_000_000L);
        assertFalse(sci, "the next change is 2^31 ticks after the first");
        advance(2_000_000L);
        assertTrue(sci);

        // Disabled: TMR_STS still sets, the SCI stays low and no timer is armed.
        w16(STS, AcpiPm.TMR_STS);
        w16(EN, 0);
        assertEquals(0, timers.armedCount());
        advance(2 * toggle);
        assertEquals(AcpiPm.TMR_STS, r16(STS) & AcpiPm.TMR_STS);
        assertFalse(sci);
        // Enabled while TMR_STS is already set: the SCI rises at once.
        w16(EN, AcpiPm.TMR_EN);
        assertTrue(sci);
    }

    @Test
    void powerButtonStatusIsWriteOneToClearAndRaisesSciWhenEnabled() {
        pm.pressPowerButton();
        assertEquals(AcpiPm.PWRBTN_STS, r16(STS) & AcpiPm.PWRBTN_STS);
        assertFalse(sci, "PWRBTN_EN is off");
        w16(EN, AcpiPm.PWRBTN_EN);
        assertEquals(AcpiPm.PWRBTN_EN, r16(EN));
        assertTrue(sci);
        assertTrue(pm.sciAsserted());
        w16(STS, 0); // writing 0 clears nothing
        assertEquals(AcpiPm.PWRBTN_STS, r16(STS) & AcpiPm.PWRBTN_STS);
        assertTrue(sci);
        w16(STS, AcpiPm.PWRBTN_STS);
        assertEquals(0, r16(STS) & AcpiPm.PWRBTN_STS);
        assertFalse(sci);
        assertEquals(2, sciChanges);
    }

    @Test
    void enableBitsOutsideTheDefinedOnesReadZero() {
        w16(EN, 0xFFFF);
        assertEquals(AcpiPm.TMR_EN | AcpiPm.GBL_EN | AcpiPm.PWRBTN_EN | AcpiPm.SLPBTN_EN | AcpiPm.RTC_EN, r16(EN));
    }

    @Test
    void dwordAccessCoversStatusAndEnable() {
        pm.pressPowerButton();
        pm.write(STS, 4, (long) AcpiPm.PWRBTN_EN << 16);
        assertEquals(((long) AcpiPm.PWRBTN_EN << 16) | AcpiPm.PWRBTN_STS, pm.read(STS, 4));
        assertTrue(sci);
        pm.write(STS, 4, 0xFFFF); // clear all status, disable all (enable half written as 0)
        assertEquals(0, pm.read(STS, 4));
        assertFalse(sci);
    }

    @Test
    void resetClearsEverything() {
        pm.pressPowerButton();
        w16(EN, AcpiPm.PWRBTN_EN);
        advance(5_000_000_000L);
        pm.reset();
        assertEquals(0, r16(STS));
        assertEquals(0, r16(EN));
        assertEquals(AcpiPm.SCI_EN, r16(CNT));
        assertEquals(0, pm.read(TMR, 4));
        assertFalse(sci);
    }

    @Test
    void unusedPortsReadAllOnes() {
        assertEquals(0xFFFF, pm.read(6, 2));
    }
}
