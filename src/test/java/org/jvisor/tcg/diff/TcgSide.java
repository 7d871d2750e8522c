package org.jvisor.tcg.diff;

import org.jvisor.boot.TestGuestBoot;
import org.jvisor.config.JitOptions;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;
import org.jvisor.tcg.TcgCpu;
import org.jvisor.tcg.TcgCpuid;

/**
 * The system under test: runs a case's snippet in tcg from the same state. Guest RAM covers the
 * native code and data addresses, identity-mapped with 2 MiB pages in the layout TestGuestBoot
 * uses (PML4 0x1000, PDPT 0x2000, PD 0x3000); the snippet and data sit at the same addresses as
 * on the host. Each case runs twice: in the interpreter and through the translator (threshold
 * 0: the snippet is compiled to a unit on first sight), so both engines answer to the host. One
 * TcgCpu per engine runs all cases; the snippet's code is invalidated before each run
 * ({@code -Djvisor.fuzz.freshCpu=true}: a new TcgCpu per case instead).
 */
final class TcgSide {
    private static final long PTE_P = 1, PTE_RW = 2, PTE_PS = 1L << 7;
    private static TcgSide instance;

    private final GuestMemory ram;
    private final MachineBus bus;
    private final boolean fresh = Boolean.getBoolean("jvisor.fuzz.freshCpu");
    private final X86State entry = TestGuestBoot.longModeState(0);
    private final Engine interpreted = new Engine(JitOptions.OFF);
    private final Engine translated = new Engine(JitOptions.OFF.withEnabled(true).withThreshold(0));

    /** One engine configuration: its own state and CPU, kept across cases. */
    private static final class Engine {
        final JitOptions options;
        final X86State state = new X86State();
        TcgCpu cpu;

        Engine(JitOptions options) {
            this.options = options;
        }
    }

    static synchronized TcgSide get() {
        if (instance == null) {
            instance = new TcgSide();
        }
        return instance;
    }

    private TcgSide() {
        NativeCpu n = NativeCpu.get();
        long end = n.dataBase() + NativeCpu.DATA_SIZE;
        ram = GuestMemory.allocate((end + 0x1F_FFFF) & ~0x1F_FFFFL);
        bus = new MachineBus(ram, new AddressSpace("io", 0x1_0000), new AddressSpace("mmio", 1L << 48));
        ram.fill(TestGuestBoot.PML4_ADDR, 0x2000, (byte) 0);
        ram.writeU64(TestGuestBoot.PML4_ADDR, TestGuestBoot.PDPT_ADDR | PTE_P | PTE_RW);
        ram.writeU64(TestGuestBoot.PDPT_ADDR, TestGuestBoot.PD_ADDR | PTE_P | PTE_RW);
        for (long e = 0; e < 512; e++) { // the first GiB, which holds all of guest RAM here
            ram.writeU64(TestGuestBoot.PD_ADDR + e * 8, (e << 21) | PTE_P | PTE_RW | PTE_PS);
        }
        ram.writeU64(TestGuestBoot.GDT_ADDR, 0);
        ram.writeU64(TestGuestBoot.GDT_ADDR + TestGuestBoot.CODE64_SELECTOR, 0x00AF_9B00_0000_FFFFL);
        ram.writeU64(TestGuestBoot.GDT_ADDR + TestGuestBoot.DATA_SELECTOR, 0x00CF_9300_0000_FFFFL);
        ram.writeU64(TestGuestBoot.GDT_ADDR + TestGuestBoot.TSS_SELECTOR, 0x0000_8B00_0000_0067L);
        ram.writeU64(TestGuestBoot.GDT_ADDR + TestGuestBoot.TSS_SELECTOR + 8, 0);
    }

    /** Result of one tcg run: final state and data area, or the exception tcg threw. */
    record Result(X86State state, byte[] data, Throwable error) {
    }

    /** Runs the case in the interpreter ({@code translate} false) or as a translated unit. */
    Result run(Case c, boolean translate) {
        Engine engine = translate ? translated : interpreted;
        X86State state = engine.state;
        long dataBase = NativeCpu.get().dataBase();
        ram.write(c.codeAddr(), c.code());
        ram.write(dataBase, c.data());
        state.copyFrom(entry);
        state.rip = c.codeAddr();
        for (int i = 0; i < 16; i++) {
            state.gpr[i] = c.regs()[i];
        }
        state.gpr[4] = TestGuestBoot.STACK_TOP;
        for (int i = 0; i < 32; i++) {
            state.xmm[i] = c.regs()[NativeCpu.XMM_SLOT + i];
        }
        state.mxcsr = NativeCpu.inputMxcsr(c.regs()[NativeCpu.MXCSR_SLOT]);
        // IF set as for the host's user-mode code (PUSHF images must agree); nothing interrupts tcg here
        state.rflags = (c.regs()[16] & NativeCpu.INPUT_FLAGS) | X86State.FIXED1 | X86State.IF;
        TcgCpu cpu = engine.cpu;
        if (cpu == null || fresh) {
            cpu = engine.cpu = new TcgCpu(state, bus, TcgCpuid.model(), engine.options);
        } else {
            cpu.invalidateCode(c.codeAddr(), c.code().length);
        }
        Throwable error = null;
        try {
            cpu.runUntilRip(c.codeAddr() + c.code().length, 1_000_000L);
        } catch (RuntimeException | Error e) {
            error = e;
            engine.cpu = null; // start over after an exception: the engine's internal state is suspect
        }
        byte[] out = new byte[(int) NativeCpu.DATA_SIZE];
        ram.read(dataBase, out, 0, out.length);
        return new Result(state, out, error);
    }
}
