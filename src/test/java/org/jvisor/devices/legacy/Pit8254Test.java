package org.jvisor.devices.legacy;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.devices.timer.ManualClock;
import org.jvisor.devices.timer.TimerQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Pit8254Test {
    private final ManualClock clock = new ManualClock(1_000_000_000L);
    private final TimerQueue timers = new TimerQueue(clock);
    private boolean irq0;
    private int risingEdges;
    private long lastRise;
    private Pit8254 pit;

    @BeforeEach
    void setUp() {
        pit = new Pit8254(timers, level -> {
            if (level && !irq0) {
                risingEdges++;
                lastRise = clock.nanos();
            }
            irq0 = level;
        });
    }

    private void out(int port, int v) {
        if (port == 0x61) {
            pit.port61().write(0, 1, v);
        } else {
            pit.write(port - 0x40, 1, v);
        }
    }

    private int in(int port) {
        return (int) (port == 0x61 ? pit.port61().read(0, 1) : pit.read(port - 0x40, 1));
    }

    private long t0() {
        return 1_000_000_000L;
    }

    /** Nanoseconds for n PIT clocks (the first instant the n-th clock has elapsed). */
    private static long ns(long ticks) {
        return Pit8254.nanosForTicks(ticks);
    }

    @Test
    void conversionsAreExactInverses() {
        assertEquals(0, Pit8254.ticks(ns(0)));
        for (long t : new long[] {1, 1193, 1193182, 1193183, 123456789}) {
            assertEquals(t, Pit8254.ticks(ns(t)));
            assertEquals(t - 1, Pit8254.ticks(ns(t) - 1), "one ns earlier is still before tick " + t);
        }
    }

    @Test
    void mode2RateGeneratorRaisesIrq0EveryPeriod() {
        out(0x43, 0x34); // channel 0, lobyte/hibyte, mode 2
        out(0x40, 1193 & 0xFF);
        out(0x40, 1193 >> 8);
        assertTrue(irq0, "mode 2 OUT goes high when programmed (an edge the PIC sees, as on hardware)");
        risingEdges = 0;
        timers.advanceTo(t0() + 10_000_000);
        assertEquals(10, risingEdges, "1193 clocks = 999.85 us: ten periods in 10 ms");
        assertEquals(t0() + ns(10 * 1193), lastRise);
        assertTrue(irq0);
    }

    @Test
    void mode0InterruptOnTerminalCount() {
        out(0x43, 0x30); // channel 0, lobyte/hibyte, mode 0
        assertFalse(irq0);
        out(0x40, 100);
        out(0x40, 0);
        timers.advanceTo(t0() + ns(50));
        out(0x43, 0x00); // latch channel 0
        assertEquals(50, in(0x40) | in(0x40) << 8);
        timers.advanceTo(t0() + ns(100) - 1);
        assertFalse(irq0);
        timers.advanceTo(t0() + ns(100));
        assertTrue(irq0);
        assertEquals(1, risingEdges);
        timers.advanceTo(t0() + ns(100_000));
        assertEquals(1, risingEdges, "one-shot: OUT stays high");
        assertEquals(Long.MAX_VALUE, timers.nextDeadline());
    }

    @Test
    void mode3SquareWaveIsHighForHalfThePeriod() {
        out(0x43, 0x36); // channel 0, lobyte/hibyte, mode 3
        out(0x40, 10);
        out(0x40, 0);
        risingEdges = 0;
        timers.advanceTo(t0() + ns(4));
        assertTrue(pit.out(0));
        timers.advanceTo(t0() + ns(5));
        assertFalse(pit.out(0));
        assertFalse(irq0);
        timers.advanceTo(t0() + ns(10));
        assertTrue(irq0);
        timers.advanceTo(t0() + ns(100));
        assertEquals(10, risingEdges);
        assertEquals(t0() + ns(100), lastRise);
    }

    @Test
    void latchHoldsTheCountWhileTimeMoves() {
        out(0x43, 0x34);
        out(0x40, 0x00);
        out(0x40, 0x10); // 0x1000
        timers.advanceTo(t0() + ns(0x100));
        out(0x43, 0x00);
        timers.advanceTo(t0() + ns(0x200));
        assertEquals(0x00, in(0x40));
        assertEquals(0x0F, in(0x40), "latched 0x0F00");
        assertEquals(0x1000 - 0x200, in(0x40) | in(0x40) << 8, "after the latch is read, live counts again");
    }

    @Test
    void readBackLatchesStatusAndCount() {
        out(0x43, 0xB0); // channel 2, lobyte/hibyte, mode 0
        out(0x42, 0x34);
        out(0x42, 0x12);
        out(0x61, 0x01); // gate 2 high
        out(0x43, 0xC8); // read-back: count and status of channel 2
        int status = in(0x42);
        assertEquals(3, (status >> 4) & 3, "RW = lobyte/hibyte");
        assertEquals(0, (status >> 1) & 7, "mode 0");
        assertEquals(0, status & 0x40, "count loaded: null count clear");
        assertEquals(0, status & 0x80, "OUT low in mode 0");
        assertEquals(0x1234, in(0x42) | in(0x42) << 8);
        out(0x43, 0xE8); // read-back status only
        assertEquals(status, in(0x42));
    }

    @Test
    void lobyteOnlyAccess() {
        out(0x43, 0x14); // channel 0, lobyte only, mode 2
        out(0x40, 200);
        timers.advanceTo(t0() + ns(50));
        assertEquals(150, in(0x40));
        assertEquals(150, in(0x40));
    }

    @Test
    void port61ShowsChannel2OutputForCalibration() {
        // Linux pit_calibrate_tsc(): gate on, speaker off, channel 2 mode 0, ~10 ms, poll bit 5.
        out(0x61, (in(0x61) & ~0x02) | 0x01);
        out(0x43, 0xB0);
        int latch = 11932;
        out(0x42, latch & 0xFF);
        out(0x42, latch >> 8);
        assertEquals(0, in(0x61) & 0x20);
        timers.advanceTo(t0() + ns(latch) - 1);
        assertEquals(0, in(0x61) & 0x20);
        timers.advanceTo(t0() + ns(latch));
        assertEquals(0x20, in(0x61) & 0x20);
        assertEquals(0x01, in(0x61) & 0x03);
        assertEquals(0, risingEdges, "channel 2 is not IRQ0");
    }

    @Test
    void gateLowStopsMode0Counting() {
        out(0x61, 0x01);
        out(0x43, 0xB0);
        out(0x42, 100);
        out(0x42, 0);
        timers.advanceTo(t0() + ns(30));
        out(0x61, 0x00);
        timers.advanceTo(t0() + ns(500));
        assertEquals(70, pit.count(2));
        out(0x61, 0x01);
        timers.advanceTo(t0() + ns(500) + ns(70));
        assertEquals(0x20, in(0x61) & 0x20);
    }

    @Test
    void quickPitCalibrateReadsTheMsbGoingDown() {
        // quick_pit_calibrate(): channel 2 mode 0 with 0xFFFF, then reads LSB+MSB pairs.
        out(0x61, 0x01);
        out(0x43, 0xB0);
        out(0x42, 0xFF);
        out(0x42, 0xFF);
        int last = 0x100;
        for (int i = 0; i < 20; i++) {
            timers.advanceTo(t0() + ns(256L * i + 10));
            in(0x42);
            int msb = in(0x42);
            assertTrue(msb < last, "MSB decrements every 256 clocks");
            last = msb;
        }
    }

    @Test
    void mode4OneShotAsLinuxClockeventsUseIt() {
        // pit_set_oneshot(): mode 4; pit_next_event(): LSB, MSB of the delta.
        out(0x43, 0x38);
        risingEdges = 0;
        out(0x40, 0x10);
        out(0x40, 0x00); // 16 clocks
        timers.advanceTo(t0() + ns(16));
        assertFalse(irq0, "OUT low for the clock after terminal count");
        assertEquals(0, risingEdges);
        timers.advanceTo(t0() + ns(17));
        assertTrue(irq0);
        assertEquals(1, risingEdges);
        timers.advanceTo(t0() + ns(100_000));
        assertEquals(1, risingEdges, "a strobe happens once");
    }

    @Test
    void mode4OneShotRearmedAgainAndAgain() {
        // NO_HZ on the PIT: pit_next_event() after every strobe, sometimes before it fired
        out(0x43, 0x38);
        risingEdges = 0;
        long now = t0();
        for (int i = 1; i <= 5; i++) {
            out(0x40, 0x10);
            out(0x40, 0x00);
            now += ns(20);
            timers.advanceTo(now);
            assertEquals(i, risingEdges, "strobe " + i);
        }
        // re-armed before the strobe: only the new count fires
        out(0x40, 0x00);
        out(0x40, 0x01); // 256
        now += ns(100);
        timers.advanceTo(now);
        out(0x40, 0x00);
        out(0x40, 0x01);
        now += ns(200);
        timers.advanceTo(now);
        assertEquals(5, risingEdges);
        now += ns(100);
        timers.advanceTo(now);
        assertEquals(6, risingEdges);
        // shutdown (mode 0, count 0) and back to one-shot
        out(0x43, 0x30);
        out(0x40, 0);
        out(0x40, 0);
        now += ns(200_000);
        timers.advanceTo(now);
        int afterShutdown = risingEdges;
        out(0x43, 0x38);
        out(0x40, 0x10);
        out(0x40, 0x00);
        now += ns(20);
        timers.advanceTo(now);
        assertEquals(afterShutdown + 1, risingEdges, "one-shot works again after a shutdown");
    }

    @Test
    void lateTimerStillGivesTheMode4Strobe() {
        // The timer thread runs late on a host clock: by then OUT went low and high again, and
        // IRQ0 must still see the rising edge (a NO_HZ kernel on the PIT waits for it forever).
        out(0x43, 0x38);
        risingEdges = 0;
        out(0x40, 0x10);
        out(0x40, 0x00); // 16 clocks
        clock.set(t0() + ns(1000));
        timers.runDue();
        assertEquals(1, risingEdges);
        assertTrue(irq0, "OUT is high again after the strobe");
        out(0x40, 0x10);
        out(0x40, 0x00);
        clock.set(t0() + ns(1000) + ns(5000));
        timers.runDue();
        assertEquals(2, risingEdges, "and the next one-shot too");
    }

    @Test
    void mode1WaitsForTheGate() {
        out(0x61, 0x00);
        out(0x43, 0xB2); // channel 2, lobyte/hibyte, mode 1
        out(0x42, 50);
        out(0x42, 0);
        timers.advanceTo(t0() + ns(100));
        assertEquals(0x20, in(0x61) & 0x20, "OUT high until triggered");
        out(0x61, 0x01); // rising gate triggers
        assertEquals(0, in(0x61) & 0x20);
        timers.advanceTo(t0() + ns(100) + ns(50));
        assertEquals(0x20, in(0x61) & 0x20);
    }

    @Test
    void reprogrammingCancelsTheOldSchedule() {
        out(0x43, 0x34);
        out(0x40, 0xE8);
        out(0x40, 0x03); // 1000
        risingEdges = 0;
        timers.advanceTo(t0() + ns(500));
        out(0x43, 0x30); // mode 0: OUT low, no count yet
        timers.advanceTo(t0() + ns(5000));
        assertEquals(0, risingEdges);
        assertFalse(irq0);
    }
}
