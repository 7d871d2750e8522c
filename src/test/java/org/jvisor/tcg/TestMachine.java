package org.jvisor.tcg;

import org.jvisor.config.JitOptions;
import java.util.List;
import org.jvisor.boot.BootException;
import org.jvisor.boot.ElfImage;
import org.jvisor.boot.TestGuestBoot;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.GuestMemory;

/**
 * A 64 MiB guest in the test-guest boot state (long mode, 2 MiB identity pages, flat segments)
 * with code assembled at {@link #CODE}, and a tcg core on it.
 */
final class TestMachine implements AutoCloseable {
    static final long CODE = 0x100000;
    static final long DATA = 0x200000;
    static final long IDT = 0x300000;
    static final long HANDLERS = 0x310000;

    final GuestMemory ram = GuestMemory.allocate(64L << 20);
    final AddressSpace io = new AddressSpace("io", 0x10000);
    final AddressSpace mmio = new AddressSpace("mmio", 1L << 52);
    final X86State st;
    final TcgCpu cpu;
    /** The machine's translations (one vCPU here). */
    final SharedCode shared;
    long end;

    TestMachine(String asm) {
        this(asm, JitOptions.fromSystemProperties());
    }

    /** With the translator set as given (e.g. translating every block, to test the translator). */
    TestMachine(String asm, JitOptions jit) {
        this(Asm.assemble(asm), jit);
    }

    /** With machine code already assembled (to run one program on several machines). */
    TestMachine(byte[] code, JitOptions jit) {
        this(code, jit, new UnitLibrary());
    }

    /** With translations shared through {@code library} (with other test machines). */
    TestMachine(byte[] code, JitOptions jit, UnitLibrary library) {
        shared = new SharedCode(ram.size(), library);
        ElfImage elf = new ElfImage(CODE, List.of(new ElfImage.Segment(CODE, CODE, 0, code.length, code.length, 5)), List.of());
        try {
            st = TestGuestBoot.load(elf, ram, code, "test");
        } catch (BootException e) {
            throw new IllegalStateException(e);
        }
        end = CODE + code.length;
        MachineBus bus = new MachineBus(ram, io, mmio);
        cpu = new TcgCpu(st, bus, TcgCpuid.model(), new org.jvisor.cpu.ExitStats(false), new Object(),
            InterruptSource.NONE, shared, jit);
    }

    /** Runs from the entry to the end of the code. */
    TestMachine run() {
        cpu.runUntilRip(end, 10_000_000);
        return this;
    }

    long reg(int r) {
        return st.gpr[r];
    }

    /**
     * Writes an IDT (vectors 0-31) whose handlers store the vector in R15 and the error code (or
     * -1) in R14, count deliveries in R13, and return {@code skipBytes} past the pushed RIP.
     */
    void installIdt(int skipBytes) {
        StringBuilder a = new StringBuilder();
        for (int v = 0; v < 32; v++) {
            boolean err = v == 8 || (v >= 10 && v <= 14) || v == 17;
            a.append(".org ").append(v * 64).append('\n');
            a.append("mov $").append(v).append(", %r15\n");
            a.append(err ? "pop %r14\n" : "mov $-1, %r14\n");
            if (skipBytes != 0) {
                a.append("addq $").append(skipBytes).append(", (%rsp)\n");
            }
            a.append("incq %r13\n");
            a.append("iretq\n");
        }
        ram.write(HANDLERS, Asm.assemble(a.toString()));
        for (int v = 0; v < 32; v++) {
            long h = HANDLERS + v * 64L;
            long lo = (h & 0xFFFF) | (8L << 16) | (0x8EL << 40) | ((h >>> 16) & 0xFFFF) << 48;
            ram.writeU64(IDT + v * 16L, lo);
            ram.writeU64(IDT + v * 16L + 8, h >>> 32);
        }
        st.idtr.base = IDT;
        st.idtr.limit = 32 * 16 - 1;
    }

    /**
     * One external interrupt, vector 0x20, pending once more than {@code afterRetired}
     * instructions retired: its handler stores 1 at 0x200000 and returns. For tests that a loop
     * running translated (chained or not) still takes its interrupt.
     */
    void interruptOnceAfter(long afterRetired) {
        gate(0x20, "movq $1, 0x200000\niretq\n");
        cpu.setInterruptSource(new InterruptSource() {
            private boolean delivered;

            @Override
            public boolean hasPendingInterrupt() {
                return !delivered && cpu.instructionsRetired() > afterRetired;
            }

            @Override
            public int acknowledgeInterrupt() {
                delivered = true;
                return 0x20;
            }
        });
    }

    /**
     * The IDT (at {@link #IDT}, covering vectors 0 to {@code vector}) with one 64-bit interrupt
     * gate, for {@code vector}, to {@code handlerAsm} assembled at {@link #HANDLERS}.
     */
    void gate(int vector, String handlerAsm) {
        ram.write(HANDLERS, Asm.assemble(handlerAsm));
        long h = HANDLERS;
        ram.writeU64(IDT + vector * 16L, (h & 0xFFFF) | (8L << 16) | (0x8EL << 40) | ((h >>> 16) & 0xFFFF) << 48);
        ram.writeU64(IDT + vector * 16L + 8, h >>> 32);
        st.idtr.base = IDT;
        st.idtr.limit = (vector + 1) * 16 - 1;
    }

    /**
     * A GDT at {@code gdt} laid out for SYSCALL/SYSRET with STAR = 0x0018_0008 (SDM vol. 3,
     * 5.8.8): null, kernel code (64-bit), kernel data, user code (32-bit), user data, user code
     * (64-bit); GDTR points at it.
     */
    void syscallGdt(long gdt) {
        ram.writeU64(gdt, 0);
        ram.writeU64(gdt + 0x08, 0x00AF_9B00_0000_FFFFL);
        ram.writeU64(gdt + 0x10, 0x00CF_9300_0000_FFFFL);
        ram.writeU64(gdt + 0x18, 0x00CF_FB00_0000_FFFFL);
        ram.writeU64(gdt + 0x20, 0x00CF_F300_0000_FFFFL);
        ram.writeU64(gdt + 0x28, 0x00AF_FB00_0000_FFFFL);
        st.gdtr.base = gdt;
        st.gdtr.limit = 0x2F;
    }

    /**
     * Assembly for a test's ring-0 prologue: SYSCALL enabled (EFER.SCE), LSTAR at label
     * {@code entry}, STAR with the selectors of {@link #syscallGdt}.
     */
    static String syscallSetup(String entry) {
        return """
            mov $0xC0000080, %ecx
            rdmsr
            or $1, %eax
            wrmsr
            lea ENTRY(%rip), %rax
            mov %rax, %rdx
            shr $32, %rdx
            mov $0xC0000082, %ecx
            wrmsr
            mov $0xC0000081, %ecx
            xor %eax, %eax
            mov $0x00180008, %edx
            wrmsr
            """.replace("ENTRY", entry);
    }

    /** Assembly that drops to ring 3 at label {@code user}: stack at 0x1f0000, RFLAGS {@code rflags}. */
    static String sysretTo(String user, int rflags) {
        return """
            mov $0x1f0000, %rsp
            lea USER(%rip), %rcx
            mov $RFLAGS, %r11
            sysretq
            """.replace("USER", user).replace("RFLAGS", "0x" + Integer.toHexString(rflags));
    }

    /** Sets the U/S bit in the paging entries that map the first 2 MiB (user code and stack there). */
    void userAccessibleFirst2MiB() {
        for (long entry : new long[] {0x1000, 0x2000, 0x3000}) {
            ram.writeU64(entry, ram.readU64(entry) | 4);
        }
    }

    /** An external interrupt of one vector, pending from {@link #raise} until the CPU takes it. */
    static final class PendingVector implements InterruptSource {
        private final int vector;
        private boolean pending;

        PendingVector(int vector) {
            this.vector = vector;
        }

        void raise() {
            pending = true;
        }

        @Override
        public boolean hasPendingInterrupt() {
            return pending;
        }

        @Override
        public int acknowledgeInterrupt() {
            pending = false;
            return vector;
        }
    }

    /**
     * Vector 0x20, whose handler stores 1 at 0x200000 and RCX at 0x200008, becomes pending at the
     * guest's {@code nth} write to port 0x80 (counting from 1); with {@code requestCheck} the
     * write also asks for the interrupt check a vCPU's wake-up asks for (TcgVcpu).
     */
    void interruptAtPort80Write(int nth, boolean requestCheck) {
        gate(0x20, "movq $1, 0x200000\nmov %rcx, 0x200008\niretq\n");
        PendingVector irq = interruptOnDemand(0x20);
        int[] writes = new int[1];
        io.register("irq-raiser", 0x80, 1, new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
                if (++writes[0] == nth) {
                    irq.raise();
                    if (requestCheck) {
                        cpu.requestInterruptCheck();
                    }
                }
            }
        });
    }

    /** Vector {@code vector} becomes this CPU's interrupt source, raised by the test. */
    PendingVector interruptOnDemand(int vector) {
        PendingVector p = new PendingVector(vector);
        cpu.setInterruptSource(p);
        return p;
    }

    @Override
    public void close() {
        shared.close(); // the background translator reads RAM
        ram.close();
    }
}
