package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.boot.ElfImage;
import org.jvisor.boot.TestGuestBoot;
import org.jvisor.cpu.ExitReason;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.Vcpu;
import org.jvisor.cpu.VcpuExit;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.GuestMemory;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.TranslatedToo;

/** Boots the built test guests (target/guests) on the tcg engine with a fake UART and exit port. */
@GuestTest
@TranslatedToo
class GuestsOnTcgTest {

    /** What a guest run produced. */
    record Outcome(String serial, long exitValue, VcpuExit lastExit, ExitStats stats) {
    }

    static Path guest(String name) {
        String dir = System.getProperty("jvisor.guests", "target/guests");
        return Path.of(dir, name + ".elf");
    }

    static Outcome boot(String name) throws Exception {
        Path elfPath = guest(name);
        assumeTrue(Files.exists(elfPath), "test guest not built: " + elfPath);
        byte[] file = Files.readAllBytes(elfPath);
        try (GuestMemory ram = GuestMemory.allocate(64L << 20)) {
            X86State st = TestGuestBoot.load(ElfImage.parse(file, name), ram, file, name);
            AddressSpace io = new AddressSpace("io", 0x10000);
            AddressSpace mmio = new AddressSpace("mmio", 1L << 52);
            StringBuilder serial = new StringBuilder();
            long[] exit = {-1};
            Vcpu[] vcpu = new Vcpu[1];
            io.register("uart", 0x3F8, 8, new BusDevice() {
                private int scratch;

                @Override
                public long read(long offset, int size) {
                    return switch ((int) offset) {
                        case 5 -> 0x60; // LSR: THR empty, transmitter empty
                        case 7 -> scratch;
                        default -> 0;
                    };
                }

                @Override
                public void write(long offset, int size, long value) {
                    if (offset == 0) {
                        serial.append((char) (value & 0xFF));
                    } else if (offset == 7) {
                        scratch = (int) value & 0xFF;
                    }
                }
            });
            io.register("debug-exit", 0xF4, 4, new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    return 0;
                }

                @Override
                public void write(long offset, int size, long value) {
                    exit[0] = value;
                    vcpu[0].kick();
                }
            });
            try (TcgAccelerator accel = new TcgAccelerator(new MachineBus(ram, io, mmio))) {
                ExitStats stats = new ExitStats(false);
                vcpu[0] = accel.createVcpu(0, stats);
                vcpu[0].loadState(st);
                VcpuExit e = vcpu[0].run();
                return new Outcome(serial.toString(), exit[0], e, stats);
            }
        }
    }

    @Test
    void helloPrintsAndExits() throws Exception {
        Outcome o = boot("hello");
        assertTrue(o.serial().contains("Hello from a jvisor test guest"), o.serial());
        assertEquals(0x10, o.exitValue());
        assertInstanceOf(VcpuExit.Kicked.class, o.lastExit());
        assertTrue(o.stats().countOf(ExitReason.IO_OUT) > 30);
        assertTrue(o.stats().countOf(ExitReason.IO_IN) > 30);
    }

    @Test
    void tripleFaultGuestTripleFaults() throws Exception {
        Outcome o = boot("triplefault");
        assertInstanceOf(VcpuExit.TripleFault.class, o.lastExit(), o.serial());
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpuid", "arith", "exceptions", "paging", "usermode", "io"})
    void guestPasses(String name) throws Exception {
        Outcome o = boot(name);
        assertEquals(0x10, o.exitValue(), () -> name + " on tcg: " + o.lastExit() + "\n" + o.serial());
        assertTrue(o.serial().strip().endsWith("PASS"), o.serial());
    }
}
