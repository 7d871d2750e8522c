package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig.CpuConfig;
import org.jvisor.config.MachineConfig.CpuConfig.Setting;
import org.jvisor.cpu.CpuFeature;
import org.jvisor.testing.RequiredTools;

/**
 * -cpu MODEL[,FEATURE...] in QEMU 7.2's syntax: the models, +f/-f/f=on|off/f, the aliases,
 * QEMU's rule for which setting counts, the properties, and the errors' words.
 */
class CpuOptionsTest {

    private static CpuConfig cpu(String value) throws UsageException {
        CommandLine.Action.Run run = (CommandLine.Action.Run) CommandLine.parse(new String[] {"-kernel", "k", "-cpu", value});
        return run.config().cpu();
    }

    private static String error(String value) {
        return assertThrows(UsageException.class, () -> cpu(value)).getMessage();
    }

    @Test
    void modelsAreQemu64MaxHostAndBase() throws UsageException {
        CommandLine.Action.Run plain = (CommandLine.Action.Run) CommandLine.parse(new String[] {"-kernel", "k"});
        assertEquals(CpuConfig.DEFAULT, plain.config().cpu());
        for (String m : List.of("qemu64", "max", "host", "base")) {
            assertEquals(new CpuConfig(m, List.of()), cpu(m));
        }
        assertEquals("-cpu: 'Haswell' is not a CPU model jvisor has (base, host, max, qemu64; -cpu help lists them)",
            error("Haswell"));
    }

    @Test
    void everySpellingOfAFlag() throws UsageException {
        CpuConfig c = cpu("qemu64,+avx,-popcnt,sse4.2=off,aes=on,xsave,rdrand=no,fma=yes,f16c=false,movbe=true");
        assertEquals(List.of(new Setting("avx", true, true), new Setting("popcnt", false, true),
            new Setting("sse4.2", false, false), new Setting("aes", true, false), new Setting("xsave", true, false),
            new Setting("rdrand", false, false), new Setting("fma", true, false), new Setting("f16c", false, false),
            new Setting("movbe", true, false)), c.settings());
        assertEquals("qemu64,+avx,-popcnt,sse4.2=off,aes=on,xsave=on,rdrand=off,fma=on,f16c=off,movbe=on", c.spec());
        assertEquals("-cpu: avx='maybe' (expected on or off)", error("qemu64,avx=maybe"));
    }

    @Test
    void qemusAliasesAndUnderscoresNameTheSameFlag() throws UsageException {
        assertEquals(List.of(new Setting("sse4.2", false, false), new Setting("sse4.1", false, true),
                new Setting("pni", true, true), new Setting("pclmulqdq", false, true), new Setting("lahf-lm", false, false),
                new Setting("nx", false, true), new Setting("lm", true, true), new Setting("tsc-deadline", false, false),
                new Setting("sse4.2", true, false)),
            cpu("qemu64,sse4_2=off,-sse4-1,+sse3,-pclmuldq,lahf_lm=off,-xd,+i64,tsc_deadline=off,sse4-2=on").settings());
    }

    /** QEMU 7.2, checked with qom-get: f= in order, then every +f, then every -f, wherever they stand. */
    @Test
    void plusMinusBeatPropertiesAndMinusBeatsPlusAsInQemu() throws UsageException {
        assertEquals(false, cpu("qemu64,-popcnt,popcnt=on").setting("popcnt"));
        assertEquals(true, cpu("qemu64,popcnt=off,+popcnt").setting("popcnt"));
        assertEquals(false, cpu("qemu64,+popcnt,-popcnt").setting("popcnt"));
        assertEquals(false, cpu("qemu64,-popcnt,+popcnt").setting("popcnt"));
        assertEquals(true, cpu("qemu64,popcnt=off,popcnt=on").setting("popcnt"));
        assertEquals(false, cpu("qemu64,popcnt=on,popcnt=off").setting("popcnt"));
        assertNull(cpu("qemu64,-avx").setting("popcnt"));
        // QEMU warns only for a property after a +/- of the same name
        assertEquals(List.of("popcnt"), cpu("qemu64,-popcnt,popcnt=on").ambiguous());
        assertEquals(List.of(), cpu("qemu64,popcnt=on,-popcnt").ambiguous());
    }

    @Test
    void propertiesAndTheirDefaults() throws UsageException {
        CpuConfig plain = cpu("host");
        assertFalse(plain.enforce());
        assertTrue(plain.check() && plain.kvmSignature() && plain.pmu() && plain.l3Cache() && plain.migratable());
        CpuConfig c = cpu("host,migratable=on,enforce,check=off,kvm=off,pmu=off,l3-cache=off");
        assertTrue(c.enforce() && c.migratable());
        assertFalse(c.check() || c.kvmSignature() || c.pmu() || c.l3Cache());
        assertFalse(cpu("max,migratable=off").migratable());
        assertFalse(cpu("max,-kvm").kvmSignature(), "properties take +/- too, as in QEMU");
        assertFalse(cpu("max,l3_cache=off").l3Cache(), "QEMU's '_' to '-' applies to properties");
        // QEMU 7.2: "Property 'qemu64-x86_64-cpu.migratable' not found": only max and host have it
        assertTrue(error("qemu64,migratable=on").contains("Property 'qemu64-x86_64-cpu.migratable' not found"));
        assertTrue(error("base,migratable=on").contains("Property 'base-x86_64-cpu.migratable' not found"));
    }

    @Test
    void x2apicAndHypervisorAreFlagsLikeAnyOther() throws UsageException {
        assertFalse(cpu("qemu64").x2apicOnTcg());
        assertTrue(cpu("max").x2apicOnTcg());
        assertTrue(cpu("qemu64,+x2apic").x2apicOnTcg());
        assertFalse(cpu("max,x2apic=off").x2apicOnTcg());
        assertEquals(new CpuConfig("max", false), cpu("max,x2apic=off"));
        assertEquals(false, cpu("qemu64,-hypervisor").setting("hypervisor"));
    }

    @Test
    void unknownNamesHyperVAndQemuOnlyPropertiesAreRefusedByName() {
        assertEquals("-cpu qemu64,+avx3: Property 'qemu64-x86_64-cpu.avx3' not found (-cpu help lists the CPUID flags)",
            error("qemu64,+avx3"));
        assertTrue(error("max,foo=on").startsWith("-cpu max,foo=on: Property 'max-x86_64-cpu.foo' not found"));
        assertTrue(error("host,hv-relaxed").contains("jvisor has no Hyper-V enlightenments (hv-* properties)"));
        assertTrue(error("host,hv_vapic=on").contains("jvisor has no Hyper-V enlightenments"));
        assertTrue(error("host,phys-bits=40").contains("QEMU's CPU property 'phys-bits' is not one jvisor's vCPUs have"));
        assertTrue(error("qemu64,flush-l1d").contains("not found"), "a flag newer than QEMU 7.2");
    }

    /** libvirt 9.0: host-passthrough on kvm, a disabled feature both ways it writes them, a hidden KVM. */
    @Test
    void whatLibvirtWrites() throws UsageException {
        assertEquals(List.of(new Setting("migratable", true, false)), cpu("host,migratable=on").settings());
        assertEquals(false, cpu("host,migratable=on,-vmx").setting("vmx"));
        assertEquals(false, cpu("qemu64,vmx=off").setting("vmx"));
        assertFalse(cpu("qemu64,kvm=off").kvmSignature());
        assertFalse(cpu("qemu64,-kvmclock").setting("kvmclock"));
    }

    @Test
    void cpuHelpListsModelsAndFlagsAndNeedsNothingElse() throws UsageException {
        for (String help : List.of("help", "?")) {
            CommandLine.Action a = CommandLine.parse(new String[] {"-cpu", help});
            String text = assertInstanceOf(CommandLine.Action.Help.class, a).text();
            assertTrue(text.startsWith("Available CPUs:\nx86 base "), text);
            assertTrue(text.contains("\nx86 qemu64 "), text);
            assertTrue(text.contains("Recognized CPUID flags:\n  3dnow 3dnowext 3dnowprefetch"), text);
            assertTrue(text.contains(" sse4.2 ") && text.contains(" hypervisor ") && text.contains(" xsaves "), text);
            assertFalse(text.contains("sse4_2"), "aliases are not listed, as in QEMU");
        }
    }

    /** Every flag jvisor names is one Debian's QEMU 7.2 names ("Recognized CPUID flags:" of its -cpu help). */
    @Test
    void everyFlagNameIsOneQemuLists() throws Exception {
        java.nio.file.Path qemu = java.nio.file.Path.of("/usr/bin/qemu-system-x86_64");
        RequiredTools.assume(java.nio.file.Files.isExecutable(qemu), "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)");
        Process p = new ProcessBuilder(qemu.toString(), "-cpu", "help").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor());
        java.util.Set<String> qemuFlags = new java.util.HashSet<>(List.of(out.substring(out.indexOf("Recognized CPUID flags:")
            + 23).trim().split("\\s+")));
        for (String name : CpuFeature.names()) {
            assertTrue(qemuFlags.contains(name), name + " is not in QEMU's -cpu help");
        }
    }
}
