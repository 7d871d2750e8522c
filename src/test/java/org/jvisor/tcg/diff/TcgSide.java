package org.jvisor.tcg.diff;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;
import org.jvisor.boot.TestGuestBoot;
import org.jvisor.cpu.CpuidModel;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;

/**
 * The system under test: runs a case's snippet in tcg from the same state. Guest RAM covers the
 * native code and data addresses, identity-mapped with 2 MiB pages in the layout TestGuestBoot
 * uses (PML4 0x1000, PDPT 0x2000, PD 0x3000); the snippet and data sit at the same addresses as
 * on the host. A fresh TcgCpu runs every case, so no translation outlives the code it came from.
 */
final class TcgSide {
    private static final long PTE_P = 1, PTE_RW = 2, PTE_PS = 1L << 7;
    private static TcgSide instance;
    private static boolean probed;

    private final GuestMemory ram;
    private final MachineBus bus;
    private final CpuidModel cpuid = cpuidModel();
    private final MethodHandle ctor;
    private final MethodHandle runUntilRip;
    private final MethodHandle invalidateCode;
    /** -Djvisor.fuzz.freshCpu=true: a new TcgCpu per case instead of one reused with invalidateCode. */
    private final boolean fresh = Boolean.getBoolean("jvisor.fuzz.freshCpu");
    private final X86State entry;
    private X86State state;
    private Object cpu;

    /** tcg's own CPUID model (org.jvisor.tcg.TcgCpuid.model()) when there is one. */
    private static CpuidModel cpuidModel() {
        try {
            return (CpuidModel) Class.forName("org.jvisor.tcg.TcgCpuid").getMethod("model").invoke(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return new CpuidModel(List.of());
        }
    }

    /** The tcg side, or null while org.jvisor.tcg.TcgCpu does not exist yet. */
    static synchronized TcgSide get() {
        if (!probed) {
            probed = true;
            try {
                Class<?> cls = Class.forName("org.jvisor.tcg.TcgCpu");
                instance = new TcgSide(cls);
            } catch (ClassNotFoundException e) {
                instance = null;
            }
        }
        return instance;
    }

    private TcgSide(Class<?> cls) {
        NativeCpu n = NativeCpu.get();
        long end = n.dataBase() + NativeCpu.DATA_SIZE;
        ram = GuestMemory.allocate((end + 0x1F_FFFF) & ~0x1F_FFFFL);
        bus = new MachineBus(ram, new AddressSpace("io", 0x1_0000), new AddressSpace("mmio", 1L << 48));
        ram.fill(TestGuestBoot.PML4_ADDR, 0x2000, (byte) 0);
        ram.writeU64(TestGuestBoot.PML4_ADDR, TestGuestBoot.PDPT_ADDR | PTE_P | PTE_RW);
        ram.writeU64(TestGuestBoot.PDPT_ADDR, TestGuestBoot.PD_ADDR | PTE_P | PTE_RW);
        for (long e = 0; e < 512; e++) {
            ram.writeU64(TestGuestBoot.PD_ADDR + e * 8, (e << 21) | PTE_P | PTE_RW | PTE_PS);
        }
        ram.writeU64(TestGuestBoot.GDT_ADDR, 0);
        ram.writeU64(TestGuestBoot.GDT_ADDR + 8, 0x00AF_9B00_0000_FFFFL);
        ram.writeU64(TestGuestBoot.GDT_ADDR + 16, 0x00CF_9300_0000_FFFFL);
        ram.writeU64(TestGuestBoot.GDT_ADDR + 24, 0x0000_8B00_0000_0067L);
        ram.writeU64(TestGuestBoot.GDT_ADDR + 32, 0);
        try {
            var lookup = MethodHandles.publicLookup();
            ctor = lookup.findConstructor(cls, MethodType.methodType(void.class, X86State.class, MachineBus.class,
                CpuidModel.class));
            runUntilRip = lookup.findVirtual(cls, "runUntilRip", MethodType.methodType(void.class, long.class,
                long.class));
            invalidateCode = lookup.findVirtual(cls, "invalidateCode", MethodType.methodType(void.class, long.class,
                long.class));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("org.jvisor.tcg.TcgCpu lacks the expected API", e);
        }
        entry = TestGuestBoot.longModeState(0);
    }

    /** Result of one tcg run: final state and data area, or the exception tcg threw. */
    record Result(X86State state, byte[] data, Throwable error) {
    }

    Result run(Case c) {
        long dataBase = NativeCpu.get().dataBase();
        ram.write(c.codeAddr(), c.code());
        ram.write(dataBase, c.data());
        Throwable error = null;
        try {
            if (cpu == null || fresh) {
                state = new X86State();
                state.copyFrom(entry);
                cpu = ctor.invoke(state, bus, cpuid);
            } else {
                invalidateCode.invoke(cpu, c.codeAddr(), (long) c.code().length);
            }
        } catch (Throwable t) {
            throw new IllegalStateException("cannot set up TcgCpu", t);
        }
        X86State st = state;
        st.copyFrom(entry);
        st.rip = c.codeAddr();
        for (int i = 0; i < 16; i++) {
            st.gpr[i] = c.regs()[i];
        }
        st.gpr[4] = TestGuestBoot.STACK_TOP;
        st.rflags = (c.regs()[16] & NativeCpu.INPUT_FLAGS) | X86State.FIXED1;
        try {
            runUntilRip.invoke(cpu, c.codeAddr() + c.code().length, 1_000_000L);
        } catch (Throwable t) {
            error = t;
            cpu = null; // start over after an exception: the engine's internal state is suspect
        }
        byte[] out = new byte[(int) NativeCpu.DATA_SIZE];
        ram.read(dataBase, out, 0, out.length);
        return new Result(st, out, error);
    }
}
