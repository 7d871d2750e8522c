package org.jvisor.machine;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;
import org.jvisor.testing.TranslatedToo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every test guest on both engines, through the real command line: each prints what it checks and
 * ends with PASS (status 33) or FAIL (status 35). Where both engines run a guest, their console
 * output must be identical: the guest sees the same machine.
 */
@GuestTest
@TranslatedToo
class GuestSuiteTest {
    private static final String DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04";

    private static JvisorProcess.Result boot(String accel, String guest) throws Exception {
        return JvisorProcess.run("-accel", accel, "-nographic", "-m", "256M", "-device", DEBUG_EXIT,
            "-kernel", JvisorProcess.guest(guest + ".elf").toString());
    }

    private static void assertPassed(JvisorProcess.Result r) {
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stdout().endsWith("PASS\n"), r.toString());
        if (r.stdout().startsWith("cpuid:")) {
            // the default -cpu: both engines sign as KVM under the hypervisor bit (CpuModelGuestTest hides them)
            assertTrue(r.stdout().contains("hypervisor bit (1:ecx[31]) = 1,"), r.toString());
            assertTrue(r.stdout().contains("signature \"KVMKVMKVM\""), r.toString());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpuid", "arith", "paging", "io", "exceptions", "usermode"})
    void passesOnTcg(String guest) throws Exception {
        assertPassed(boot("tcg", guest));
    }

    /** cpuid and paging print what the engine offers (vendor, 1 GiB pages), so only PASS is compared. */
    @ParameterizedTest
    @ValueSource(strings = {"cpuid", "paging"})
    void passesOnKvm(String guest) throws Exception {
        KvmAvailability.assumeKvm();
        assertPassed(boot("kvm", guest));
    }

    @ParameterizedTest
    @ValueSource(strings = {"arith", "io"})
    void passesOnKvmWithTheSameOutputAsTcg(String guest) throws Exception {
        KvmAvailability.assumeKvm();
        var kvm = boot("kvm", guest);
        assertPassed(kvm);
        var tcg = boot("tcg", guest);
        assertEquals(kvm.stdout(), tcg.stdout(), "the same guest prints the same on both engines");
    }

    /** These use int n and syscall, which the nested KVM of these hosts cannot emulate (design.md). */
    @ParameterizedTest
    @ValueSource(strings = {"exceptions", "usermode"})
    void passesOnKvmOnBareMetal(String guest) throws Exception {
        KvmAvailability.assumeKvm();
        Assumptions.assumeFalse(AcceleratorChoice.hostIsVirtualMachine(),
            "skipped: this host's nested KVM cannot emulate int n / syscall (see design.md, Facts)");
        assertPassed(boot("kvm", guest));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tcg", "kvm"})
    void tripleFaultResetsAndTheGuestRunsAgain(String accel) throws Exception {
        if (accel.equals("kvm")) {
            KvmAvailability.assumeKvm();
        }
        var r = boot(accel, "triplefault");
        assertEquals("boot 1: triple fault next\nboot 2: after reset\n", r.stdout(), r.toString());
        assertEquals(33, r.status(), r.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"tcg", "kvm"})
    void helloIsTheSameOnBothEngines(String accel) throws Exception {
        if (accel.equals("kvm")) {
            KvmAvailability.assumeKvm();
        }
        var r = boot(accel, "hello");
        assertEquals("Hello from a jvisor test guest\n", r.stdout(), r.toString());
        assertEquals(33, r.status());
        assertTrue(Files.exists(Path.of(JvisorProcess.guest("hello.elf").toString())));
    }
}
