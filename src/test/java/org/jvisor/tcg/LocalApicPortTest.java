package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.jvisor.cpu.CpuidEntry;
import org.jvisor.testing.TranslatedToo;

/** The CPU side of the local APIC (MSRs and CR8 through {@link LocalApicPort}), kvmclock and CPUID. */
@TranslatedToo
class LocalApicPortTest {
    private static final long D = TestMachine.DATA;

    /** Records what the CPU forwards. */
    static final class FakePort implements LocalApicPort, InterruptSource {
        long base = 0xFEE0_0000L | (1 << 11) | (1 << 8);
        boolean armed;
        long deadlineHost;
        int deadlineWrites;
        long cr8;
        boolean x2;
        int lastX2Msr;
        long lastX2Value;

        @Override
        public boolean hasPendingInterrupt() {
            return false;
        }

        @Override
        public int acknowledgeInterrupt() {
            return -1;
        }

        @Override
        public LocalApicPort localApic() {
            return this;
        }

        @Override
        public long apicBase() {
            return base;
        }

        @Override
        public boolean setApicBase(long value) {
            if ((value & 0xFFF0_0000_0000_02FFL) != 0) {
                return false;
            }
            base = value;
            return true;
        }

        @Override
        public void setTscDeadline(boolean armed, long hostNanos) {
            this.armed = armed;
            this.deadlineHost = hostNanos;
            deadlineWrites++;
        }

        @Override
        public boolean tscDeadlineArmed() {
            return armed;
        }

        @Override
        public boolean x2ApicMsrAccessible(int msr, boolean write) {
            return x2 && msr != 0x8FF;
        }

        @Override
        public long readX2ApicMsr(int msr) {
            return 0x1000 + msr;
        }

        @Override
        public void writeX2ApicMsr(int msr, long value) {
            lastX2Msr = msr;
            lastX2Value = value;
        }

        @Override
        public long cr8() {
            return cr8;
        }

        @Override
        public void setCr8(long value) {
            cr8 = value;
        }
    }

    private static TestMachine machine(String asm, FakePort port) {
        TestMachine m = new TestMachine(asm);
        m.cpu.setInterruptSource(port);
        m.installIdt(2); // every faulting instruction here is a 2-byte RDMSR/WRMSR
        m.st.gpr[15] = -1;
        return m;
    }

    @Test
    void apicBaseGoesToTheLapic() {
        FakePort port = new FakePort();
        try (TestMachine m = machine("""
                mov $0x1b, %ecx
                rdmsr
                mov %rax, %r8
                mov $0xfee00000, %eax
                xor %edx, %edx
                wrmsr
                mov $0x200, %eax
                wrmsr
                """, port)) {
            m.run();
            assertEquals(0xFEE0_0900L, m.reg(8));
            assertEquals(0xFEE0_0000L, port.base, "the legal write reached the LAPIC");
            assertEquals(13, m.reg(15), "an illegal IA32_APIC_BASE value raises #GP");
            assertEquals(0xFEE0_0000L, m.st.apicBase);
        }
    }

    @Test
    void tscDeadlineIsForwardedInHostTime() {
        FakePort port = new FakePort();
        try (TestMachine m = machine("""
                mov $0x6e0, %ecx
                mov $1, %edx
                xor %eax, %eax
                wrmsr
                rdmsr
                mov %rdx, %r8
                mov %rax, %r9
                """, port)) {
            m.run();
            assertTrue(port.armed);
            assertEquals(1L << 32, port.deadlineHost, "TSC = nanoTime + offset, and the offset is 0 here");
            assertEquals(1, m.reg(8));
            assertEquals(0, m.reg(9));
        }
        // writing 0 disarms; a disarmed (or fired) deadline reads 0
        FakePort port2 = new FakePort();
        try (TestMachine m = machine("""
                mov $0x6e0, %ecx
                mov $7, %eax
                xor %edx, %edx
                wrmsr
                xor %eax, %eax
                wrmsr
                rdmsr
                mov %rax, %r8
                """, port2)) {
            m.run();
            assertFalse(port2.armed);
            assertEquals(0, m.reg(8));
        }
    }

    @Test
    void tscWriteMovesAnArmedDeadline() {
        FakePort port = new FakePort();
        try (TestMachine m = machine("""
                mov $0x6e0, %ecx
                mov $1, %edx
                xor %eax, %eax
                wrmsr
                mov $0x10, %ecx
                xor %edx, %edx
                xor %eax, %eax
                wrmsr
                """, port)) {
            long before = System.nanoTime();
            m.run();
            long after = System.nanoTime();
            assertEquals(2, port.deadlineWrites);
            // TSC := 0 at host time t, so TSC 2^32 is host time t + 2^32
            assertTrue(port.deadlineHost >= before + (1L << 32) && port.deadlineHost <= after + (1L << 32));
        }
        // a deadline that already fired stays disarmed when the TSC is written
        FakePort fired = new FakePort();
        try (TestMachine m = machine("""
                mov $0x6e0, %ecx
                mov $1, %edx
                xor %eax, %eax
                wrmsr
                """, fired)) {
            m.run();
        }
        fired.armed = false;
        try (TestMachine m = machine("""
                mov $0x10, %ecx
                xor %edx, %edx
                xor %eax, %eax
                wrmsr
                """, fired)) {
            m.run();
            assertEquals(1, fired.deadlineWrites);
            assertFalse(fired.armed);
        }
    }

    @Test
    void x2ApicMsrsAndCr8() {
        FakePort port = new FakePort();
        port.cr8 = 5;
        try (TestMachine m = machine("""
                mov $0x808, %ecx
                rdmsr
                mov $0x80b, %ecx
                mov $0x12, %eax
                wrmsr
                mov %r15, %r8
                mov %cr8, %rbx
                mov $9, %edx
                mov %rdx, %cr8
                """, port)) {
            m.run();
            assertEquals(13, m.reg(8), "x2APIC MSRs raise #GP while the LAPIC is in xAPIC mode");
            assertEquals(5, m.reg(3), "CR8 reads the TPR class");
            assertEquals(9, port.cr8);
        }
        port.x2 = true;
        try (TestMachine m = machine("""
                mov $0x808, %ecx
                rdmsr
                mov %rax, %r8
                mov $0x80b, %ecx
                xor %eax, %eax
                wrmsr
                mov $0x8ff, %ecx
                rdmsr
                """, port)) {
            m.run();
            assertEquals(0x1808, m.reg(8));
            assertEquals(0x80B, port.lastX2Msr);
            assertEquals(13, m.reg(15));
        }
    }

    @Test
    void kvmClockStructuresAreFilled() {
        try (TestMachine m = new TestMachine("""
                mov $0x4b564d01, %ecx
                mov $0x200041, %eax
                xor %edx, %edx
                wrmsr
                rdtsc
                shl $32, %rdx
                or %rax, %rdx
                mov %rdx, %r8
                mov $0x4b564d00, %ecx
                mov $0x200100, %eax
                xor %edx, %edx
                wrmsr
                """)) {
            long t0 = System.nanoTime();
            m.run();
            long pv = D + 0x40;
            int version = m.ram.readU32(pv);
            assertEquals(0, version & 1, "version even: the update is complete");
            assertTrue(version != 0);
            long tscTimestamp = m.ram.readU64(pv + 8);
            long systemTime = m.ram.readU64(pv + 16);
            long mul = m.ram.readU32(pv + 24) & 0xFFFF_FFFFL;
            int shift = m.ram.readU8(pv + 28);
            int flags = m.ram.readU8(pv + 29) & 0xFF;
            assertEquals(Msrs.PVCLOCK_TSC_STABLE_BIT, flags & Msrs.PVCLOCK_TSC_STABLE_BIT);
            // pvclock: ns = system_time + (((tsc - tsc_timestamp) << shift) * mul >> 32); 1 TSC tick = 1 ns
            long delta = 1_000_000;
            long scaled = shift >= 0 ? delta << shift : delta >>> -shift;
            assertEquals(delta, (scaled * mul) >>> 32, "the TSC runs at 1 GHz");
            long tsc = m.reg(8);
            assertTrue(tsc >= tscTimestamp, "TSC read after the update is not before its timestamp");
            assertTrue(systemTime >= 0 && systemTime < System.nanoTime() - t0 + 60_000_000_000L);
            int wallVersion = m.ram.readU32(D + 0x100);
            long sec = m.ram.readU32(D + 0x104) & 0xFFFF_FFFFL;
            long nsec = m.ram.readU32(D + 0x108) & 0xFFFF_FFFFL;
            assertEquals(0, wallVersion & 1);
            assertTrue(nsec < 1_000_000_000L);
            long bootWall = sec + (systemTime / 1_000_000_000L);
            assertTrue(Math.abs(bootWall - Instant.now().getEpochSecond()) < 60, "wall clock at kvmclock 0 + system time is now");
        }
    }

    @Test
    void cpuidAdvertisesApicTscDeadlineAndKvmClock() {
        CpuidEntry bare = TcgCpuid.model(false).lookup(1, 0);
        assertEquals(0, bare.edx() & (1 << 9), "no LAPIC attached: no CPUID.1:EDX.APIC");
        assertEquals(0, bare.ecx() & (1 << 24), "no LAPIC attached: no TSC-deadline timer");
        var model = TcgCpuid.model(true);
        CpuidEntry leaf1 = model.lookup(1, 0);
        assertTrue((leaf1.edx() & (1 << 9)) != 0, "CPUID.1:EDX.APIC");
        assertTrue((leaf1.ecx() & (1 << 24)) != 0, "CPUID.1:ECX.TSC-Deadline");
        CpuidEntry kvm = model.lookup(0x4000_0001, 0);
        assertEquals((1 << 3) | (1 << 24), kvm.eax() & ((1 << 3) | (1 << 24)), "KVM_FEATURE_CLOCKSOURCE2 and STABLE_BIT");
    }
}
