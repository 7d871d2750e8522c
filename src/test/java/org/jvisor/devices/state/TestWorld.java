package org.jvisor.devices.state;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.jvisor.devices.PlatformControl;
import org.jvisor.devices.intc.ApicBus;
import org.jvisor.devices.intc.LocalApic;
import org.jvisor.devices.pci.MsiSink;
import org.jvisor.devices.timer.ManualClock;
import org.jvisor.devices.virtio.FakeNetBackend;
import org.jvisor.devices.timer.TimerQueue;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IrqLine;

/**
 * What a device under test is wired to: one guest clock driven by hand with its timer queue,
 * guest RAM, the io and memory address spaces, a disk image, and recorders for everything the
 * device sends out (IRQ line levels and edges, APIC messages, MSIs, platform requests). Two
 * worlds stand for the machine that saved a state and the one that restores it.
 */
final class TestWorld implements AutoCloseable {
    final ManualClock clock;
    final TimerQueue timers;
    final GuestMemory ram = GuestMemory.allocate(4L << 20);
    final AddressSpace io = new AddressSpace("io", 0x10000);
    final AddressSpace memory = new AddressSpace("memory", 1L << 40);
    final byte[] disk = new byte[64 * 1024];
    final FakeNetBackend net = new FakeNetBackend();
    final TestBackends.Pipe[] pipes = {new TestBackends.Pipe(), new TestBackends.Pipe()};
    private final Map<String, Boolean> levels = new TreeMap<>();
    private final List<String> events = new ArrayList<>();

    TestWorld(long startNanos) {
        clock = new ManualClock(startNanos);
        timers = new TimerQueue(clock);
    }

    /** A wire whose level is kept under {@code name} and whose edges are logged. */
    IrqLine line(String name) {
        return level -> {
            synchronized (this) {
                if (!Boolean.valueOf(level).equals(levels.put(name, level))) {
                    events.add(name + (level ? " up" : " down"));
                }
            }
        };
    }

    synchronized void log(String event) {
        events.add(event);
    }

    /** The level of every line that was ever driven. */
    synchronized Map<String, Boolean> levels() {
        return new TreeMap<>(levels);
    }

    /** What the devices sent since the last call, in order. */
    synchronized List<String> takeEvents() {
        List<String> l = List.copyOf(events);
        events.clear();
        return l;
    }

    MsiSink msi() {
        return (address, data) -> log(String.format("msi %#x %#x", address, data));
    }

    ApicBus apicBus() {
        return new ApicBus() {
            @Override
            public void deliver(int destination, DestMode destMode, DeliveryMode deliveryMode, int vector, boolean level,
                                boolean levelTriggered) {
                log(String.format("deliver %s %d %s %#x level=%s trigger=%s", destMode, destination, deliveryMode, vector,
                    level, levelTriggered ? "level" : "edge"));
            }

            @Override
            public void deliverToAll(LocalApic exclude, DeliveryMode deliveryMode, int vector, boolean level,
                                     boolean levelTriggered) {
                log(String.format("broadcast %s %#x", deliveryMode, vector));
            }

            @Override
            public void eoi(int vector) {
                log(String.format("eoi %#x", vector));
            }
        };
    }

    PlatformControl control() {
        return new PlatformControl() {
            @Override
            public void exit(int status, String reason) {
                log("exit " + status);
            }

            @Override
            public void reset(String reason) {
                log("reset: " + reason);
            }

            @Override
            public void powerOff(String reason) {
                log("power off");
            }
        };
    }

    /** Moves guest time forward, firing the timers due on the way. */
    void advance(long nanos) {
        timers.advanceTo(clock.nanos() + nanos);
    }

    /** RAM and disk as {@code other} has them: the restoring machine gets the saved memory and the user's image. */
    void copyMemoryFrom(TestWorld other) {
        ram.segment().copyFrom(other.ram.segment());
        System.arraycopy(other.disk, 0, disk, 0, disk.length);
    }

    @Override
    public void close() {
        timers.close();
        ram.close();
    }
}
