package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;
import org.jvisor.config.MachineConfig.CpuConfig.Setting;
import org.jvisor.cpu.CpuFeature;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

/**
 * -cpu's flags reach the guest through the real path on each engine: the cpuid test guest prints
 * its CPUID registers, and the bits -cpu cleared are clear, the KVM leaves gone with kvm=off, a
 * flag the engine cannot offer stays clear with QEMU's warning; what cannot run is refused before
 * anything runs. One boot per engine.
 */
@GuestTest
class CpuModelGuestTest {
    private static final String DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04";
    private static final Pattern LEAF_1 = Pattern.compile("leaf 1 eax \\p{XDigit}{8} ebx \\p{XDigit}{8} ecx (\\p{XDigit}{8}) edx (\\p{XDigit}{8})");
    private static final Pattern LEAF_7 = Pattern.compile("leaf 7\\.0: eax \\p{XDigit}{8} ebx (\\p{XDigit}{8})");
    private static final Pattern EXT_1 = Pattern.compile("0x80000001: ecx (\\p{XDigit}{8}) edx (\\p{XDigit}{8})");

    private static JvisorProcess.Result boot(String accel, String cpu) throws Exception {
        JvisorProcess.Result r = JvisorProcess.run("-accel", accel, "-nographic", "-m", "64M", "-device", DEBUG_EXIT,
            "-cpu", cpu, "-kernel", JvisorProcess.guest("cpuid.elf").toString());
        assertEquals(33, r.status(), r.toString());
        return r;
    }

    private static int reg(Pattern p, int group, JvisorProcess.Result r) {
        Matcher m = p.matcher(r.stdout());
        assertTrue(m.find(), r.toString());
        return Integer.parseUnsignedInt(m.group(group), 16);
    }

    private static boolean has(int reg, CpuFeature f) {
        return (reg & f.mask()) != 0;
    }

    @Test
    void tcgGuestSeesWhatCpuLeft() throws Exception {
        JvisorProcess.Result r = boot("tcg", "qemu64,-popcnt,-sse4.2,sse4_2=on,-hypervisor,kvm=off,+avx512f,-lahf_lm");
        int ecx1 = reg(LEAF_1, 1, r);
        assertFalse(has(ecx1, CpuFeature.POPCNT) || has(ecx1, CpuFeature.SSE4_2) || has(ecx1, CpuFeature.HYPERVISOR), r.toString());
        assertTrue(has(ecx1, CpuFeature.SSSE3) && has(ecx1, CpuFeature.CX16), "the rest of tcg's set: " + r);
        assertFalse(has(reg(LEAF_7, 1, r), CpuFeature.AVX512F), "asked for, not offered: stays clear");
        assertFalse(has(reg(EXT_1, 1, r), CpuFeature.LAHF_LM), r.toString());
        assertTrue(has(reg(EXT_1, 2, r), CpuFeature.LM), r.toString());
        assertTrue(r.stdout().contains("cpuid: 0x40000000: no hypervisor leaves\n"), r.toString());
        assertTrue(r.stderr().contains("jvisor: warning: TCG doesn't support requested feature: CPUID.07H:EBX.avx512f [bit 16]\n"),
            r.toString());
        assertTrue(r.stderr().contains("jvisor: warning: Ambiguous CPU model string. Don't mix both \"-sse4.2\" and \"sse4.2=on\""),
            r.toString());
    }

    /**
     * What libvirt's host-passthrough runs, less some flags. The nested KVM of these hosts shows
     * the guest its host's CPUID.1 and .7 flags whatever the VMM sets (but the hypervisor bit), so
     * the flags checked are ones every KVM honours: the hypervisor bit, CPUID.80000001H and the
     * KVM leaves.
     */
    @Test
    void kvmGuestSeesWhatCpuHostLeft() throws Exception {
        KvmAvailability.assumeKvm();
        JvisorProcess.Result r = boot("kvm", "host,migratable=on,-hypervisor,-lahf-lm,kvm=off");
        assertFalse(has(reg(LEAF_1, 1, r), CpuFeature.HYPERVISOR), r.toString());
        assertFalse(has(reg(EXT_1, 1, r), CpuFeature.LAHF_LM), r.toString());
        assertTrue(has(reg(EXT_1, 2, r), CpuFeature.LM), r.toString());
        assertTrue(r.stdout().contains("cpuid: 0x40000000: no hypervisor leaves\n"), r.toString());
    }

    private static MachineConfig config(String model, Setting... settings) {
        return MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(64L << 20)
            .kernel(JvisorProcess.guest("cpuid.elf")).noReboot(true)
            .cpu(new MachineConfig.CpuConfig(model, List.of(settings))).build();
    }

    /** Built, not run: the machine's CPUID is -cpu's, and what cannot run is refused naming why. */
    @Test
    void theMachinePresentsTheChoiceOrRefusesIt() throws Exception {
        try (Machine m = Machine.create(config("max", new Setting("popcnt", false, true)), MachineDevicesTest.QUIET, e -> { })) {
            assertFalse(CpuFeature.POPCNT.in(m.accelerator().cpuid()));
            assertTrue(CpuFeature.X2APIC.in(m.accelerator().cpuid()), "max on tcg: x2APIC");
            assertTrue(CpuFeature.POPCNT.in(m.accelerator().offeredCpuid()));
        }
        MachineException e = assertThrows(MachineException.class, () -> Machine.create(config("host"), MachineDevicesTest.QUIET, x -> { }));
        assertTrue(e.getMessage().startsWith("-cpu host: CPU model 'host' requires KVM or HVF (jvisor runs on tcg: tcg (requested); "
            + "use -accel kvm"), e.getMessage());
        e = assertThrows(MachineException.class, () -> Machine.create(config("qemu64", new Setting("avx512f", true, true),
            new Setting("pcid", true, false), new Setting("enforce", true, false)), MachineDevicesTest.QUIET, x -> { }));
        assertEquals("-cpu qemu64,+avx512f,pcid=on,enforce=on: TCG doesn't support requested features: "
            + "CPUID.01H:ECX.pcid [bit 17], CPUID.07H:EBX.avx512f [bit 16]", e.getMessage());
    }
}
