package org.jvisor.devices.legacy;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.devices.timer.Clock;
import org.jvisor.devices.timer.TimerQueue;
import org.jvisor.devices.timer.VirtualTimer;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * The 8254 programmable interval timer (Intel 8254 data sheet, order 231164) as wired on a PC:
 * three 16-bit down-counters clocked at 1.193182 MHz; channel 0 drives IRQ0, channel 1 (DRAM
 * refresh) is unwired, channel 2's gate is port 0x61 bit 0 and its output is readable in port 0x61
 * bit 5 (PC speaker / calibration). Ports 0x40-0x42 are the counters, 0x43 the control word.
 *
 * <p>Counters are not ticked: a counter's state is computed from the {@link Clock} and the time its
 * count was loaded, and channel 0's output edges are scheduled on a {@link VirtualTimer}, so an
 * idle guest costs nothing. Simplifications: a new count in modes 2 and 3 takes effect at once
 * (not at the end of the current period); the one-clock load delay is not modelled.
 */
public final class Pit8254 implements BusDevice, StatefulDevice<PitState> {
    public static final long FREQUENCY_HZ = 1_193_182;
    private static final long NS_PER_S = 1_000_000_000L;
    private static final String NAME = "8254 PIT";

    private final Clock clock;
    private final IrqLine irq0;
    private final Channel[] channels = {new Channel(0), new Channel(1), new Channel(2)};
    private final VirtualTimer irqTimer;
    private boolean irq0Level;
    /** Port 0x61 bit 1 (speaker data enable); kept only to read back. */
    private boolean speakerData;

    private final BusDevice port61 = new BusDevice() {
        @Override
        public long read(long offset, int size) {
            return readPort61();
        }

        @Override
        public void write(long offset, int size, long value) {
            writePort61((int) value);
        }
    };

    public Pit8254(TimerQueue timers, IrqLine irq0) {
        this.clock = timers.clock();
        this.irq0 = irq0;
        this.irqTimer = timers.newTimer("pit-ch0", this::channel0Edge);
        reset();
    }

    /** Power-on: counters unprogrammed, gates of channels 0 and 1 high, channel 2's low. */
    public synchronized void reset() {
        long now = clock.nanos();
        for (Channel c : channels) {
            c.reset(now);
        }
        channels[2].gate = false;
        speakerData = false;
        irqTimer.cancel();
        setIrq0(false);
    }

    /** Registers 0x40-0x43 and 0x61. */
    public void registerPorts(AddressSpace io) {
        io.register("pit", 0x40, 4, this);
        io.register("port61", 0x61, 1, port61);
    }

    /** Port 0x61 (system control port B) as its own device. */
    public BusDevice port61() {
        return port61;
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset >= 3) {
            return 0xFF; // the control word register is write-only
        }
        return channels[(int) offset].readByte(clock.nanos());
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) value & 0xFF;
        long now = clock.nanos();
        if (offset < 3) {
            Channel c = channels[(int) offset];
            c.writeByte(now, v);
            if (c.index == 0) {
                rescheduleChannel0(now);
            }
        } else if (offset == 3) {
            writeControl(now, v);
        }
    }

    private void writeControl(long now, int v) {
        int sc = v >> 6;
        if (sc == 3) {
            // Read-back command (data sheet, "Read-Back Command"): bit 5 = 0 latches counts,
            // bit 4 = 0 latches status, bits 3-1 select the counters.
            for (int i = 0; i < 3; i++) {
                if ((v & (2 << i)) != 0) {
                    Channel c = channels[i];
                    if ((v & 0x10) == 0) {
                        c.latchStatus(now);
                    }
                    if ((v & 0x20) == 0) {
                        c.latchCount(now);
                    }
                }
            }
            return;
        }
        Channel c = channels[sc];
        int rw = (v >> 4) & 3;
        if (rw == 0) {
            c.latchCount(now); // counter latch command
            return;
        }
        c.program(now, rw, (v >> 1) & 7, (v & 1) != 0);
        if (sc == 0) {
            rescheduleChannel0(now);
        }
    }

    /** Port 0x61: bit 0 gate 2, bit 1 speaker data, bit 4 refresh toggle (every 15.09 µs), bit 5 OUT2. */
    public synchronized int readPort61() {
        long now = clock.nanos();
        int v = (channels[2].gate ? 0x01 : 0) | (speakerData ? 0x02 : 0);
        if (((now / 15_085) & 1) != 0) {
            v |= 0x10;
        }
        if (channels[2].out(now)) {
            v |= 0x20;
        }
        return v;
    }

    public synchronized void writePort61(int v) {
        speakerData = (v & 0x02) != 0;
        channels[2].setGate(clock.nanos(), (v & 0x01) != 0);
    }

    /** Sets a channel's gate input (channel 2's is port 0x61 bit 0; 0 and 1 are tied high on a PC). */
    public synchronized void setGate(int channel, boolean level) {
        long now = clock.nanos();
        channels[channel].setGate(now, level);
        if (channel == 0) {
            rescheduleChannel0(now);
        }
    }

    /** The current OUT of a channel. */
    public synchronized boolean out(int channel) {
        return channels[channel].out(clock.nanos());
    }

    /** The counting element of a channel as a read would see it now (without latching). */
    public synchronized int count(int channel) {
        return channels[channel].count(clock.nanos());
    }

    public synchronized int mode(int channel) {
        return channels[channel].mode;
    }

    // ---- state ----

    @Override
    public synchronized PitState saveState() {
        long now = clock.nanos();
        List<PitState.Channel> l = new ArrayList<>();
        for (Channel c : channels) {
            l.add(c.save(now));
        }
        return new PitState(l, speakerData);
    }

    /** Restores the counters, rebased on this machine's clock; IRQ0 and its timer follow channel 0. */
    @Override
    public synchronized void restoreState(PitState s) throws DeviceStateException {
        DeviceStateException.checkLength(NAME, "channels", s.channels().size(), channels.length);
        for (int i = 0; i < channels.length; i++) {
            Channel.check(i, s.channels().get(i));
        }
        long now = clock.nanos();
        for (int i = 0; i < channels.length; i++) {
            channels[i].restore(now, s.channels().get(i));
        }
        speakerData = s.speakerData();
        rescheduleChannel0(now);
    }

    @Override
    public Class<PitState> stateType() {
        return PitState.class;
    }

    // ---- channel 0 -> IRQ0 ----

    private void setIrq0(boolean level) {
        if (level != irq0Level) {
            irq0Level = level;
            irq0.set(level);
        }
    }

    private void rescheduleChannel0(long now) {
        Channel c = channels[0];
        setIrq0(c.out(now));
        long next = c.nextTransition(now);
        if (next == Long.MAX_VALUE) {
            irqTimer.cancel();
        } else {
            irqTimer.arm(next);
        }
    }

    private synchronized void channel0Edge(long deadline) {
        Channel c = channels[0];
        long now = Math.max(deadline, clock.nanos());
        if (c.nextTransition(deadline - 1) != deadline) {
            // A stale firing (the channel was reprogrammed meanwhile): just resynchronize.
            rescheduleChannel0(now);
            return;
        }
        // Report the edge due at the deadline even if the timer thread runs late; if the opposite
        // edge was skipped meanwhile, replay it so an edge-triggered IRQ0 is not lost.
        boolean level = c.out(deadline);
        if (level == irq0Level) {
            setIrq0(!level);
        }
        setIrq0(level);
        // The edge after it may be due by now too (the one-clock low pulse of modes 2, 4 and 5 is
        // under a microsecond): report it as well, or a mode 4 strobe (Linux's one-shot PIT) would
        // leave IRQ0 low and its rising edge, the interrupt, would never come.
        setIrq0(c.out(now));
        long next = c.nextTransition(now);
        if (next == Long.MAX_VALUE) {
            irqTimer.cancel();
        } else {
            irqTimer.arm(next);
        }
    }

    // ---- time conversion ----

    /** Whole PIT clocks in {@code ns} nanoseconds (floor), without overflow for any run length. */
    static long ticks(long ns) {
        return ns / NS_PER_S * FREQUENCY_HZ + ns % NS_PER_S * FREQUENCY_HZ / NS_PER_S;
    }

    /** The first nanosecond at which {@link #ticks} reaches {@code t}. */
    static long nanosForTicks(long t) {
        return t / FREQUENCY_HZ * NS_PER_S + (t % FREQUENCY_HZ * NS_PER_S + FREQUENCY_HZ - 1) / FREQUENCY_HZ;
    }

    private static int toBcd(int v) {
        return (v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12;
    }

    private static int fromBcd(int v) {
        return (v & 0xF) + ((v >> 4) & 0xF) * 10 + ((v >> 8) & 0xF) * 100 + ((v >> 12) & 0xF) * 1000;
    }

    /** One counter (data sheet, "Modes"). Guarded by the PIT's lock. */
    private static final class Channel {
        final int index;
        int mode;
        /** 1 = LSB only, 2 = MSB only, 3 = LSB then MSB. */
        int rw;
        boolean bcd;
        /** The count register as written (0 stands for 65536, or 10000 in BCD). */
        int countRegister;
        /** The count the element started from, as a number of clocks (1..65536). */
        long initial;
        /** When the counting element was (re)loaded; counting runs from here while enabled. */
        long loadTime;
        /** False until a count was written after a control word (OUT holds its initial level). */
        boolean loaded;
        /** Modes 1 and 5: the gate trigger arrived after loading. */
        boolean triggered;
        boolean gate = true;
        /** Modes 0 and 4 stop counting while the gate is low; the count is frozen here. */
        boolean frozen;
        long frozenTicks;
        boolean nullCount;
        // Write and read state
        boolean writeMsbNext;
        int writeLsb;
        boolean readMsbNext;
        boolean countLatched;
        int latchedCount;
        boolean latchedMsbNext;
        boolean statusLatched;
        int latchedStatus;

        Channel(int index) {
            this.index = index;
        }

        void reset(long now) {
            mode = 0;
            rw = 3;
            bcd = false;
            countRegister = 0;
            initial = 0x10000;
            loadTime = now;
            loaded = false;
            triggered = false;
            gate = true;
            frozen = false;
            nullCount = true;
            writeMsbNext = false;
            readMsbNext = false;
            countLatched = false;
            statusLatched = false;
        }

        PitState.Channel save(long now) {
            return new PitState.Channel(mode, rw, bcd, countRegister, initial, now - loadTime, loaded, triggered, gate,
                frozen, frozenTicks, nullCount, writeMsbNext, writeLsb, readMsbNext, countLatched, latchedCount,
                latchedMsbNext, statusLatched, latchedStatus);
        }

        static void check(int index, PitState.Channel s) throws DeviceStateException {
            String ch = NAME + " channel " + index;
            DeviceStateException.checkRange(ch, "mode", s.mode(), 0, 5);
            DeviceStateException.checkRange(ch, "access mode", s.access(), 1, 3);
            DeviceStateException.checkRange(ch, "count register", s.countRegister(), 0, 0xFFFF);
            DeviceStateException.checkRange(ch, "initial count", s.initial(), 1, 0x10000);
            DeviceStateException.checkRange(ch, "time since load (ns)", s.sinceLoadNs(), 0, Long.MAX_VALUE / 2);
            DeviceStateException.checkRange(ch, "frozen count", s.frozenTicks(), 0, Long.MAX_VALUE / 2);
            DeviceStateException.checkRange(ch, "written LSB", s.writeLsb(), 0, 0xFF);
            DeviceStateException.checkRange(ch, "latched count", s.latchedCount(), 0, 0xFFFF);
            DeviceStateException.checkRange(ch, "latched status", s.latchedStatus(), 0, 0xFF);
        }

        void restore(long now, PitState.Channel s) {
            mode = s.mode();
            rw = s.access();
            bcd = s.bcd();
            countRegister = s.countRegister();
            initial = s.initial();
            loadTime = now - s.sinceLoadNs();
            loaded = s.loaded();
            triggered = s.triggered();
            gate = s.gate();
            frozen = s.frozen();
            frozenTicks = s.frozenTicks();
            nullCount = s.nullCount();
            writeMsbNext = s.writeMsbNext();
            writeLsb = s.writeLsb();
            readMsbNext = s.readMsbNext();
            countLatched = s.countLatched();
            latchedCount = s.latchedCount();
            latchedMsbNext = s.latchedMsbNext();
            statusLatched = s.statusLatched();
            latchedStatus = s.latchedStatus();
        }

        void program(long now, int rw, int mode, boolean bcd) {
            this.rw = rw;
            this.mode = mode > 5 ? mode - 4 : mode; // 6 and 7 alias modes 2 and 3
            this.bcd = bcd;
            loaded = false;
            triggered = false;
            frozen = false;
            nullCount = true;
            writeMsbNext = false;
            readMsbNext = false;
            countLatched = false;
            statusLatched = false;
        }

        void writeByte(long now, int v) {
            switch (rw) {
                case 1 -> load(now, v);
                case 2 -> load(now, v << 8);
                default -> {
                    if (!writeMsbNext) {
                        writeLsb = v;
                        writeMsbNext = true;
                        if (mode == 0) {
                            loaded = false; // mode 0: writing the first byte stops the count, OUT low
                        }
                        return;
                    }
                    writeMsbNext = false;
                    load(now, writeLsb | v << 8);
                }
            }
        }

        private void load(long now, int value) {
            countRegister = value;
            int n = bcd ? fromBcd(value) : value;
            initial = n == 0 ? (bcd ? 10000 : 0x10000) : n;
            loadTime = now;
            loaded = true;
            nullCount = false;
            frozen = false;
            triggered = false;
            if (!gate && (mode == 0 || mode == 4)) {
                frozen = true;
                frozenTicks = 0;
            }
        }

        void setGate(long now, boolean level) {
            if (level == gate) {
                return;
            }
            if (mode == 0 || mode == 4) {
                if (!level) {
                    frozenTicks = elapsed(now);
                    frozen = true;
                } else if (frozen) {
                    frozen = false;
                    loadTime = now - nanosForTicks(frozenTicks);
                }
            } else if (level && loaded) {
                // Rising gate: modes 1 and 5 trigger, modes 2 and 3 restart from the initial count.
                loadTime = now;
                triggered = true;
            }
            gate = level;
        }

        /** Clocks counted since the load. */
        long elapsed(long now) {
            if (frozen) {
                return frozenTicks;
            }
            return ticks(Math.max(0, now - loadTime));
        }

        private boolean counting() {
            return loaded && (mode == 0 || mode == 4 || ((mode == 1 || mode == 5) ? triggered : gate));
        }

        int count(long now) {
            if (!loaded) {
                return countRegister;
            }
            if (!counting()) {
                return (int) (initial & 0xFFFF);
            }
            long d = elapsed(now);
            long n = initial;
            long c = switch (mode) {
                case 2 -> n - d % n;
                case 3 -> {
                    long half = (2 * d) % n; // decrements by two
                    yield n - half;
                }
                default -> n - d; // modes 0, 1, 4, 5 keep counting (wrapping) after terminal count
            };
            return bcd ? toBcd((int) Math.floorMod(c, 10000L)) : (int) (c & 0xFFFF);
        }

        boolean out(long now) {
            if (!loaded) {
                return mode != 0; // mode 0 OUT goes low on the control word; the others go high
            }
            long n = initial;
            switch (mode) {
                case 0:
                    return elapsed(now) >= n;
                case 1:
                    return !triggered || elapsed(now) >= n;
                case 2:
                    if (!gate) {
                        return true;
                    }
                    return n < 2 || elapsed(now) % n != n - 1;
                case 3:
                    if (!gate) {
                        return true;
                    }
                    return elapsed(now) % n < (n + 1) / 2;
                case 4:
                    return elapsed(now) != n;
                case 5:
                    return !triggered || elapsed(now) != n;
                default:
                    return true;
            }
        }

        /** Guest time of OUT's next change after {@code now}, or {@link Long#MAX_VALUE}. */
        long nextTransition(long now) {
            if (!counting() || frozen) {
                return Long.MAX_VALUE;
            }
            long d = elapsed(now);
            long n = initial;
            long next;
            switch (mode) {
                case 0, 1 -> next = d < n ? n : -1;
                case 2 -> {
                    if (n < 2) {
                        return Long.MAX_VALUE;
                    }
                    long base = d - d % n;
                    next = d % n < n - 1 ? base + n - 1 : base + n;
                }
                case 3 -> {
                    if (n < 2) {
                        return Long.MAX_VALUE;
                    }
                    long base = d - d % n;
                    long high = (n + 1) / 2;
                    next = d % n < high ? base + high : base + n;
                }
                case 4, 5 -> next = d < n ? n : d == n ? n + 1 : -1;
                default -> next = -1;
            }
            if (next < 0) {
                return Long.MAX_VALUE;
            }
            return loadTime + nanosForTicks(next);
        }

        void latchCount(long now) {
            if (!countLatched) {
                countLatched = true;
                latchedCount = count(now);
                latchedMsbNext = false;
            }
        }

        void latchStatus(long now) {
            if (!statusLatched) {
                statusLatched = true;
                latchedStatus = (out(now) ? 0x80 : 0) | (nullCount ? 0x40 : 0) | rw << 4 | mode << 1 | (bcd ? 1 : 0);
            }
        }

        int readByte(long now) {
            if (statusLatched) {
                statusLatched = false;
                return latchedStatus;
            }
            if (countLatched) {
                int v;
                if (rw == 1) {
                    v = latchedCount & 0xFF;
                    countLatched = false;
                } else if (rw == 2) {
                    v = latchedCount >> 8 & 0xFF;
                    countLatched = false;
                } else if (!latchedMsbNext) {
                    v = latchedCount & 0xFF;
                    latchedMsbNext = true;
                } else {
                    v = latchedCount >> 8 & 0xFF;
                    countLatched = false;
                    latchedMsbNext = false;
                }
                return v;
            }
            int c = count(now);
            return switch (rw) {
                case 1 -> c & 0xFF;
                case 2 -> c >> 8 & 0xFF;
                default -> {
                    readMsbNext = !readMsbNext;
                    yield readMsbNext ? c & 0xFF : c >> 8 & 0xFF;
                }
            };
        }
    }
}
