package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.jvisor.testing.JvisorProcess;

/**
 * Debian's kernel and the busybox initramfs (the demo guest, {@code ./jvisor guest}) boot on tcg
 * to /init, which prints the marker and powers off; the kernel keeps time with kvm-clock and the
 * TSC-deadline LAPIC timer. Takes about half a minute; skipped when the guest is not built, or with
 * {@code -Djvisor.linuxOnTcg=false}.
 */
class LinuxOnTcgTest {
    private static final String MARKER = "LINUX-ON-TCG-OK";

    private static Path guestDir() {
        return Path.of(System.getProperty("jvisor.root", "."), "build/guest");
    }

    private static JvisorProcess.Result boot(String append, String... extra) throws Exception {
        assumeFalse("false".equals(System.getProperty("jvisor.linuxOnTcg")), "disabled with -Djvisor.linuxOnTcg=false");
        Path dir = guestDir();
        assumeTrue(Files.isReadable(dir.resolve("vmlinuz")) && Files.isReadable(dir.resolve("initramfs.cpio.gz")),
            "the demo guest is not built (./jvisor guest)");
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("-accel", "tcg", "-m", "512M",
            "-nographic", "-no-reboot", "-kernel", dir.resolve("vmlinuz").toString(),
            "-initrd", dir.resolve("initramfs.cpio.gz").toString(), "-append", append));
        args.addAll(java.util.List.of(extra));
        return JvisorProcess.run(args.toArray(String[]::new));
    }

    @Test
    void bootsToInitAndPowersOff() throws Exception {
        JvisorProcess.Result r = boot("console=ttyS0 jvisor.test=" + MARKER);
        assertEquals(0, r.status(), r.toString());
        String out = r.stdout();
        assertTrue(out.contains("Run /init as init process"), r.toString());
        assertTrue(out.lines().anyMatch(MARKER::equals), r.toString());
        assertTrue(out.contains("reboot: Power down"), r.toString());
        assertFalse(out.contains("segfault"), r.toString());
        assertTrue(out.contains("clocksource: Switched to clocksource kvm-clock"), r.toString());
        assertTrue(out.contains("TSC deadline timer available"), r.toString());
        assertFalse(out.contains("Fast TSC calibration failed"), r.toString());
        assertFalse(out.contains("Marking TSC unstable"), r.toString());
        assertFalse(out.contains("No local APIC present"), r.toString());
    }

    /** Without the LAPIC the kernel runs on the 8259 PIC and the PIT's one-shot mode: it must not lose its tick. */
    @Test
    void bootsAndPowersOffOnThePicAndPit() throws Exception {
        JvisorProcess.Result r = boot("console=ttyS0 nolapic jvisor.test=" + MARKER);
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.stdout().lines().anyMatch(MARKER::equals), r.toString());
        assertTrue(r.stdout().contains("reboot: Power down"), r.toString());
    }
}
