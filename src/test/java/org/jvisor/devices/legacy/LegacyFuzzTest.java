package org.jvisor.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.backend.chr.CharBackend;
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

}
