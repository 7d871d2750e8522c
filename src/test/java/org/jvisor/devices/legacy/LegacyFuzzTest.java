package org.jvisor.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.backend.chr.CharBackend;
import org.jvisor.devices.PlatformControl;
import org.jvisor.devices.acpi.AcpiPm;
import org.jvisor.devices.acpi.ResetControl;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.timer.ManualClock;
import org.jvisor.devices.timer.TimerQueue;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.IrqLine;
import org.jvisor.testing.RegisterFuzz;

/**
 * Fuzzes the PC's legacy register files through their I/O ports, as a guest's IN and OUT reach
 * them (any port of the device, any size, any value, any order), mixed with what the host side
 * does: guest time passing (timers firing), input arriving, interrupt lines moving and INTA
 * cycles. Nothing may escape an access, a read holds no bits beyond its size, time passes in a
 * bounded number of timer callbacks, and an acknowledged vector lies in the programmed range.
 */
class LegacyFuzzTest {
    /** Output is dropped; input is typed by the fuzzer through the sink. */
    static final class FuzzChar implements CharBackend {
        Sink sink;

        @Override
        public void write(int b) {
        }

        @Override
        public void start(Sink sink) {
            this.sink = sink;
        }

        @Override
        public void close() {
        }
    }

    /** Guest time moves on by up to 20 ms; a timer may not fire more often than every 100 ns. */
    static void advance(FuzzedDataProvider data, TimerQueue timers, ManualClock clock) {
        long step = data.consumeLong(0, 20_000_000L);
        long fired = timers.firedCount();
        timers.advanceTo(clock.nanos() + step);
        assertTrue(timers.firedCount() - fired <= step / 100 + 2,
            (timers.firedCount() - fired) + " timer callbacks in " + step + " ns");
    }

    /** Port accesses on the device's ports (and their neighbours). */
    static void port(FuzzedDataProvider data, AddressSpace io, int[] ports) {
        int port = ports[data.consumeInt(0, ports.length - 1)] + (data.consumeInt(0, 7) == 0 ? data.consumeInt(-2, 2) : 0);
        int size = 1 << data.consumeInt(0, 2);
        if (data.consumeInt(0, 2) != 0) {
            io.write(port & 0xFFFF, size, RegisterFuzz.value(data, size));
        } else {
            long v = io.read(port & 0xFFFF, size);
            assertTrue(size == 8 || v >>> (size * 8) == 0, "read of " + size + " bytes at port " + port + ": " + v);
        }
    }

    @FuzzTest(maxDuration = "60s")
    void uart(FuzzedDataProvider data) {
        FuzzChar chr = new FuzzChar();
        Serial16550 uart = new Serial16550(chr, IrqLine.NONE);
        uart.start();
        AddressSpace io = new AddressSpace("io", 0x10000);
        io.register("com1", 0x3F8, 8, uart);
        int[] ports = {0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3FF};
        for (int i = 0; i < 128 && data.remainingBytes() > 0; i++) {
            if (data.consumeInt(0, 7) == 0) {
                byte[] in = data.consumeBytes(data.consumeInt(0, 64));
                chr.sink.receive(in, in.length);
            } else {
                port(data, io, ports);
            }
            assertTrue(uart.pendingInput() >= 0 && uart.pendingInput() <= 4096);
        }
    }

    @FuzzTest(maxDuration = "60s")
    void rtc(FuzzedDataProvider data) {
        ManualClock clock = new ManualClock(data.consumeLong(0, 1L << 50));
        try (TimerQueue timers = new TimerQueue(clock)) {
            RtcCmos rtc = new RtcCmos(timers, data.consumeLong(0, 8_000_000_000L), 64L << 20, data.consumeLong(0, 1L << 40),
                IrqLine.NONE);
            AddressSpace io = new AddressSpace("io", 0x10000);
            rtc.registerPorts(io);
            int[] ports = {0x70, 0x71, 0x71, 0x71};
            for (int i = 0; i < 128 && data.remainingBytes() > 0; i++) {
                if (data.consumeInt(0, 7) == 0) {
                    advance(data, timers, clock);
                } else if (data.consumeInt(0, 3) == 0) {
                    // select a register the fuzzer likes, then access it
                    io.write(0x70, 1, data.consumeInt(0, 0xFF));
                    port(data, io, new int[] {0x71});
                } else {
                    port(data, io, ports);
                }
            }
        }
    }

    @FuzzTest(maxDuration = "60s")
    void pit(FuzzedDataProvider data) {
        ManualClock clock = new ManualClock(data.consumeLong(0, 1L << 50));
        try (TimerQueue timers = new TimerQueue(clock)) {
            Pit8254 pit = new Pit8254(timers, IrqLine.NONE);
            AddressSpace io = new AddressSpace("io", 0x10000);
            pit.registerPorts(io);
            int[] ports = {0x40, 0x41, 0x42, 0x43, 0x43, 0x61};
            for (int i = 0; i < 128 && data.remainingBytes() > 0; i++) {
                switch (data.consumeInt(0, 9)) {
                    case 0 -> advance(data, timers, clock);
                    case 1 -> pit.setGate(data.consumeInt(0, 2), data.consumeBoolean());
                    default -> port(data, io, ports);
                }
                for (int c = 0; c < 3; c++) {
                    assertTrue(pit.count(c) >= 0 && pit.count(c) <= 0x10000, "channel " + c + " count " + pit.count(c));
                }
            }
        }
    }

    @FuzzTest(maxDuration = "60s")
    void pic(FuzzedDataProvider data) {
        I8259Pair pic = new I8259Pair(IrqLine.NONE);
        AddressSpace io = new AddressSpace("io", 0x10000);
        pic.registerPorts(io);
        int[] ports = {0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1};
        for (int i = 0; i < 128 && data.remainingBytes() > 0; i++) {
            switch (data.consumeInt(0, 9)) {
                case 0, 1 -> pic.setIrq(data.consumeInt(0, 15), data.consumeBoolean());
                case 2 -> {
                    if (pic.intr() || data.consumeBoolean()) {
                        int v = pic.acknowledge();
                        assertTrue(v >= 0 && v <= 0xFF, "vector " + v);
                        int base = (v & 0xF8) == pic.vectorBase(false) ? pic.vectorBase(false) : pic.vectorBase(true);
                        assertTrue((v & 0xF8) == base, "vector " + v + " outside both PICs' ranges");
                    }
                }
                default -> port(data, io, ports);
            }
        }
        pic.reset();
        assertTrue(!pic.intr(), "INTR after reset");
    }

    /** Counts what a device asks of the platform; an exit ends the run (no guest reaches one here). */
    static final class Requests implements PlatformControl {
        int resets;
        int powerOffs;

        @Override
        public void exit(int status, String reason) {
            throw new AssertionError("exit " + status + ": " + reason);
        }

        @Override
        public void reset(String reason) {
            resets++;
        }

        @Override
        public void powerOff(String reason) {
            powerOffs++;
        }
    }

    /**
     * The keyboard controller: commands and data at 0x64/0x60 (controller commands, keyboard
     * commands and their argument bytes in any order), keys typed on the host side. Nothing
     * escapes; IRQ1 and IRQ12 are never up without the output buffer full (status bit 0); a
     * save restores into a twin that reads on identically; a reset leaves both lines low.
     */
    @FuzzTest(maxDuration = "60s")
    void i8042(FuzzedDataProvider data) throws DeviceStateException {
        Requests platform = new Requests();
        boolean[] lines = new boolean[2];
        I8042 kbc = new I8042(platform, level -> lines[0] = level, level -> lines[1] = level, data.consumeBoolean());
        AddressSpace io = new AddressSpace("io", 0x10000);
        kbc.registerPorts(io);
        int[] commands = {0x20, 0x60, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAD, 0xAE, 0xC0, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4,
            0xDD, 0xDF, 0xFE, 0xF0};
        int[] keyboard = {0xED, 0xEE, 0xF0, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xFE, 0xFF};
        for (int i = 0; i < 128 && data.remainingBytes() > 0; i++) {
            switch (data.consumeInt(0, 7)) {
                case 0 -> io.write(0x64, 1, commands[data.consumeInt(0, commands.length - 1)]);
                case 1 -> io.write(0x60, 1, keyboard[data.consumeInt(0, keyboard.length - 1)]);
                case 2 -> kbc.keyboardInput(data.consumeInt(0, 0xFF));
                default -> port(data, io, new int[] {0x60, 0x64});
            }
            int status = (int) io.read(0x64, 1);
            if (lines[0] || lines[1]) {
                assertTrue((status & I8042.STATUS_OBF) != 0, "IRQ1/IRQ12 up with the output buffer empty");
            }
        }
        I8042 twin = new I8042(new Requests(), level -> { }, level -> { }, true);
        twin.restoreState(kbc.saveState());
        assertEquals(kbc.saveState(), twin.saveState(), "save -> restore -> save");
        kbc.reset();
        assertFalse(lines[0] || lines[1], "IRQ1 or IRQ12 up after reset");
    }

    /**
     * ACPI PM1 event, control and timer registers (and the PIIX reset control register): any
     * port, size and value, with guest time moving. Nothing escapes; the SCI is up exactly when
     * an enabled status bit is set; a power-off is asked for only by SLP_EN with SLP_TYP S5, a
     * reset only by a byte with RST_CPU at 0xCF9; the timer never runs backwards; a reset drops
     * the SCI.
     */
    @FuzzTest(maxDuration = "60s")
    void acpiPm(FuzzedDataProvider data) throws DeviceStateException {
        Requests platform = new Requests();
        ManualClock clock = new ManualClock(data.consumeLong(0, 1L << 50));
        TimerQueue timers = new TimerQueue(clock);
        boolean[] sci = new boolean[1];
        AcpiPm pm = new AcpiPm(platform, level -> sci[0] = level, timers);
        ResetControl rcr = new ResetControl(platform);
        AddressSpace io = new AddressSpace("io", 0x10000);
        io.register("acpi-pm", AcpiPm.PORT_BASE, AcpiPm.SIZE, pm);
        io.register("reset-control", ResetControl.PORT, 1, rcr);
        int[] ports = {AcpiPm.PM1A_EVT_PORT, AcpiPm.PM1A_EVT_PORT + 1, AcpiPm.PM1A_EVT_PORT + 2, AcpiPm.PM1A_CNT_PORT,
            AcpiPm.PM1A_CNT_PORT + 1, AcpiPm.PM_TMR_PORT, ResetControl.PORT};
        int powerOffs = 0;
        int resets = 0;
        long lastTicks = 0;
        for (int i = 0; i < 128 && data.remainingBytes() > 0; i++) {
            switch (data.consumeInt(0, 9)) {
                case 0 -> timers.advanceTo(clock.nanos() + data.consumeLong(0, 1_000_000_000_000L));
                case 1 -> pm.pressPowerButton();
                case 2 -> {
                    // a sleep request as an OS makes it: SLP_TYP, then SLP_EN
                    int type = data.consumeInt(0, 7);
                    io.write(AcpiPm.PM1A_CNT_PORT, 2, type << AcpiPm.SLP_TYP_SHIFT | AcpiPm.SLP_EN);
                    powerOffs += type == AcpiPm.SLP_TYP_S5 ? 1 : 0;
                }
                default -> {
                    int port = ports[data.consumeInt(0, ports.length - 1)] + (data.consumeInt(0, 7) == 0 ? data.consumeInt(-2, 3) : 0);
                    int size = 1 << data.consumeInt(0, 2);
                    if (data.consumeInt(0, 2) != 0) {
                        long v = RegisterFuzz.value(data, size);
                        // a write reaching PM1_CNT's high byte with SLP_EN powers off if the type there is S5
                        int before = (int) io.read(AcpiPm.PM1A_CNT_PORT, 2);
                        io.write(port, size, v);
                        powerOffs += sleepsToS5(port, size, v, before) ? 1 : 0;
                        resets += port == ResetControl.PORT && (v & ResetControl.RST_CPU) != 0 ? 1 : 0;
                    } else {
                        long v = io.read(port, size);
                        assertTrue(size == 8 || v >>> (size * 8) == 0, "read of " + size + " bytes at port " + port + ": " + v);
                    }
                }
            }
            assertEquals(powerOffs, platform.powerOffs, "power-offs asked for");
            assertEquals(resets, platform.resets, "resets asked for");
            int sts = (int) io.read(AcpiPm.PM1A_EVT_PORT, 2);
            int en = (int) io.read(AcpiPm.PM1A_EVT_PORT + 2, 2);
            // the overflow timer keeps TMR_STS's share of the SCI up to date as time moves
            assertEquals((sts & en) != 0, sci[0], String.format("SCI with PM1_STS %#x, PM1_EN %#x", sts, en));
            long ticks = pm.ticks();
            assertTrue(ticks >= lastTicks, "PM timer ran backwards");
            lastTicks = ticks;
        }
        pm.reset();
        assertFalse(sci[0], "SCI after reset");
    }

    /** Whether a write of {@code size} bytes at {@code port} sets SLP_EN with SLP_TYP S5 in PM1_CNT. */
    private static boolean sleepsToS5(int port, int size, long value, int cntBefore) {
        int cnt = cntBefore;
        boolean slpEn = false;
        for (int b = 0; b < size; b++) {
            int p = port + b - AcpiPm.PM1A_CNT_PORT;
            int v = (int) (value >>> (8 * b)) & 0xFF;
            if (p == 0) {
                cnt = cnt & ~0xFF | v;
            } else if (p == 1) {
                cnt = cnt & 0xFF | v << 8;
                slpEn = (v << 8 & AcpiPm.SLP_EN) != 0;
            }
        }
        return slpEn && (cnt & AcpiPm.SLP_TYP_MASK) >>> AcpiPm.SLP_TYP_SHIFT == AcpiPm.SLP_TYP_S5;
    }
}
