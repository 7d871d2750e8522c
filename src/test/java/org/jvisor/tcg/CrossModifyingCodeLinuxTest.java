package org.jvisor.tcg;

import org.jvisor.testing.DemoGuest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.LinuxGuestPrograms;

/**
 * Cross-modifying code in a Linux user program on two vCPUs (guests/linux/xmodify.c): a writer
 * thread swaps a 4-byte aligned instruction with an atomic exchange while two threads call it; each
 * call must run one of the two encodings, and after CPUID the one the writer left (SDM vol. 3,
 * 8.1.3). The program, built static here, rides in a second cpio archive appended to the demo
 * guest's initramfs ({@link LinuxGuestPrograms}). Before the fix the callers ran the old encoding after
 * CPUID in about half of the 20 rounds (interpreted, as here). Not in the translated set: the run
 * below chooses the interpreter itself, so that set would only repeat it.
 */
@GuestTest
class CrossModifyingCodeLinuxTest {
    @Test
    void threadsCallingAFunctionWhileAnotherRewritesItRunTheOldOrTheNewCode(@TempDir Path dir) throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        Path initramfs = LinuxGuestPrograms.withPrograms(guest.initramfs(), dir, LinuxGuestPrograms.compile("xmodify", dir));
        // interpreted: a translated unit's exit applies pending drops, which hides the serializing
        // instruction's part (CrossModifyingCodeTest covers both engines' modes without a guest)
        var r = JvisorProcess.run(List.of("-Djvisor.tcg.jit=off"), null,
            "-accel", "tcg", "-smp", "2", "-m", "512M", "-nographic", "-no-reboot", "-kernel", guest.kernel().toString(), "-initrd", initramfs.toString(),
            "-append", DemoGuest.CONSOLE + " quiet " + InitScript.cmdParameterBase64("xmodify 20 2000"));
        String out = r.stdout();
        assertFalse(out.contains("xmodify: signal"), "a torn instruction faulted: " + r);
        assertFalse(out.contains("returned neither value"), "a call ran a mix of the two encodings: " + r);
        assertFalse(out.contains("after CPUID ran an old encoding"),
            "stale code after a serializing instruction: " + r);
        assertTrue(out.contains("xmodify: ok, 20 rounds of 2000 swaps"), r.toString());
        assertTrue(out.contains("jvisor-guest: command exited with status 0"), r.toString());
        assertEquals(0, r.status(), r.toString());
    }
}
