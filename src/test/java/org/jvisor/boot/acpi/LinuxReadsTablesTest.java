package org.jvisor.boot.acpi;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.RequiredTools;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The tables as Debian's kernel reads them, independent of jvisor's engines: QEMU's microvm
 * without ACPI of its own ({@code acpi=off}) gets our tables loaded at 0xE0000, and the kernel
 * must find the RSDP by scanning the BIOS area, load the DSDT, enumerate the virtio-mmio
 * transports (QEMU's microvm layout: 0xFEB00000 + 512 n, GSI 5 + n), probe the attached
 * virtio-rng through the declared level-triggered interrupt, bind COM1 through PnP ACPI and
 * allocate the SCI. QEMU has no PM block at 0x600, so the PM timer and power-off are not
 * exercised here (AcpiPmTest does that). Skipped, with the reason, without qemu-system-x86_64
 * or a built demo guest (build/guest, see guest/README.md).
 */
@GuestTest
class LinuxReadsTablesTest {

    @TempDir
    Path dir;

    private static final String END = "ACPI-SMOKE-END";

    @Test
    void debianKernelFindsAndUsesTheTables() throws Exception {
        Path qemu = IaslTest.tool("qemu-system-x86_64");
        RequiredTools.assume(qemu != null, "qemu-system-x86_64 not installed (Debian qemu-system-x86): skipping the Linux check");
        Optional<GuestBuilder.Guest> guest = GuestBuilder.existing(GuestBuilder.defaultOutDir());
        assumeTrue(guest.isPresent(), "no demo guest in " + GuestBuilder.defaultOutDir()
            + " (build it with org.jvisor.guest.GuestBuilder): skipping the Linux check");

        // no RTC: whether QEMU's microvm has one depends on its options; jvisor's guests check it (DemoGuestBootTest)
        AcpiTables t = new AcpiTables(2).i8042(false).rtc(false);
        for (int i = 0; i < 8; i++) {
            t.addVirtioMmio(0xFEB0_0000L + 512L * i, 512, 5 + i);
        }
        AcpiTables.Image img = t.build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
        Path bin = dir.resolve("tables.bin");
        Files.write(bin, img.bytes());

        String script = "dmesg | grep -E 'ACPI|pnp|ttyS0'; ls /sys/bus/acpi/devices; cat /proc/interrupts; echo " + END;
        String cmd = Base64.getEncoder().encodeToString(script.getBytes(StandardCharsets.US_ASCII));
        Process p = new ProcessBuilder(qemu.toString(), "-M", "microvm,acpi=off,ioapic2=off", "-accel", "tcg",
            "-m", "256M", "-smp", "2", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-kernel", guest.get().kernel().toString(), "-initrd", guest.get().initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " jvisor.cmd=b64:" + cmd,
            "-device", "loader,file=" + bin + ",addr=0xe0000,force-raw=on",
            "-device", "virtio-rng-device")
            .redirectErrorStream(true).start();
        StringBuilder out = new StringBuilder();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    synchronized (out) {
                        out.append(line).append('\n');
                    }
                    if (line.equals(END)) {
                        p.destroy(); // QEMU cannot power off without a PM block
                    }
                }
            } catch (Exception ignored) {
                // the process went away
            }
        });
        boolean ended = p.waitFor(240, TimeUnit.SECONDS);
        if (!ended) {
            p.destroyForcibly();
        }
        reader.join(5000);
        String o;
        synchronized (out) {
            o = out.toString();
        }
        assertTrue(o.contains(END), "the guest did not get to the end of its script:\n" + o);
        for (String want : List.of(
            "ACPI: RSDP 0x00000000000E0000 000024 (v02 JVISOR)",
            "ACPI: 1 ACPI AML tables successfully acquired and loaded",
            "ACPI: Interpreter enabled",
            "ACPI: PM: (supports S0 S5)",
            "ACPI: Using IOAPIC for interrupt routing",
            "ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 high edge)",
            "ACPI: INT_SRC_OVR (bus 0 bus_irq 9 global_irq 9 high level)",
            "pnp: PnP ACPI: found 1 devices",
            "ttyS0 at I/O 0x3f8 (irq = 4",
            "ACPI0007:00", "ACPI0007:01", "PNP0501:00", "LNXPWRBN:00",
            "LNRO0005:00", "LNRO0005:07")) {
            assertTrue(o.contains(want), "missing \"" + want + "\":\n" + o);
        }
        assertTrue(o.matches("(?s).*\\n\\s*9:.*IO-APIC\\s+9-fasteoi\\s+acpi\\n.*"), "the SCI is allocated, level:\n" + o);
        assertTrue(o.matches("(?s).*\\n\\s*12:.*IO-APIC\\s+12-fasteoi\\s+virtio0\\n.*"),
            "virtio-rng on transport 7 uses GSI 12, level-triggered:\n" + o);
        // The only ACPI error allowed is QEMU's missing PM1 enable register.
        assertFalse(o.lines().anyMatch(l -> (l.contains("ACPI Error") || l.contains("ACPI BIOS Error")
            || l.contains("ACPI Warning") || l.contains("Firmware Bug"))
            && !l.contains("Could not disable RealTimeClock events")), o);
    }
}
