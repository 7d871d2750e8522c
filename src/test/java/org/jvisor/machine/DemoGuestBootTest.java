package org.jvisor.machine;

import org.jvisor.testing.DemoGuest;

import java.io.IOException;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.JvisorSession;
import org.jvisor.testing.TranslatedToo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The demo guest (Debian 12's cloud kernel and a busybox initramfs, built from Debian packages)
 * booted on the tcg engine, as in the README: a marker run that powers off, and a shell session
 * typed through the console. -accel tcg explicitly, so this passes on any host.
 */
@GuestTest
class DemoGuestBootTest {
    private static GuestBuilder.Guest guest;

    @BeforeAll
    static void buildGuest() throws IOException {
        guest = DemoGuest.build();
    }

    private static String[] boot(String append, String... extra) {
        var args = new java.util.ArrayList<>(java.util.List.of("-accel", "tcg", "-m", "512M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(), "-append", append));
        args.addAll(java.util.List.of(extra));
        return args.toArray(new String[0]);
    }

    /**
     * The kernel keeps time with kvm-clock and the TSC-deadline LAPIC timer, as on KVM. In a 40 MiB
     * heap (the launcher gives the demo 64): tcg's decode cache, softly reachable, sheds cold pages
     * under pressure instead of running the VMM out of memory. (Not in the translated set: a
     * Linux boot with every block translated is MicrovmGuestTest's and the SMP boot's below, and
     * this one took 105 s of CI's 30 minutes there.)
     */
    @Test
    void bootsToInitPrintsTheMarkerAndPowersOff() throws Exception {
        var r = JvisorProcess.run(java.util.List.of("-Xmx40m", "-Xmn8m"), null,
            boot("console=ttyS0 jvisor.test=LINUX-BOOT-MARKER-1"));
        assertFalse(r.stderr().contains("OutOfMemoryError"), r.toString());
        String out = r.stdout();
        assertTrue(out.contains("Linux version 6."), r.toString());
        assertTrue(out.contains("Run /init as init process"), r.toString());
        assertTrue(out.lines().anyMatch("LINUX-BOOT-MARKER-1"::equals), r.toString());
        assertTrue(out.contains("reboot: Power down"), r.toString());
        assertFalse(out.contains("segfault"), r.toString());
        // the kernel's crypto self-tests, which the other tests skip (DemoGuest.CONSOLE), pass
        assertTrue(out.contains("alg: self-tests for"), r.toString());
        assertFalse(out.lines().anyMatch(l -> l.contains("alg:") && l.contains("fail")), r.toString());
        assertTrue(out.contains("clocksource: Switched to clocksource kvm-clock"), r.toString());
        assertTrue(out.contains("TSC deadline timer available"), r.toString());
        assertFalse(out.contains("Marking TSC unstable"), r.toString());
        assertFalse(out.contains("No local APIC present"), r.toString());
        assertTrue(out.contains("rtc_cmos 00:0") && out.contains(": registered as rtc0"), "the RTC through PnP ACPI: " + r);
        assertFalse(out.contains("no PNP device found"), r.toString());
        assertTrue(out.contains("[    0.000000] random: crng init done"),
            "the setup_data RNG seed makes the kernel's generator ready in setup_arch: " + r);
        assertEquals(0, r.status(), "poweroff in the guest ends jvisor with status 0: " + r);
    }

    /**
     * virtio-rng on the PCI bus: Linux finds it, uses MSI-X, reads /dev/hwrng. The PCI host is
     * PCIe-style: MCFG announces ECAM (the host bridge then has 4 KiB of config space in sysfs) and
     * the virtio BAR (64-bit, prefetchable) lands in the window above 4 GiB. And -uuid reaches the
     * guest through SMBIOS, as with QEMU: /sys/class/dmi/id/product_uuid. And the RTC, bound
     * through PnP ACPI, raises its alarm interrupt (IRQ 8) when the guest sets a wake alarm. The
     * device's bytes come from a file through -object rng-random (libvirt's {@code <rng>}), so the
     * guest's /dev/hwrng must read runs of that file: with the kernel's own hwrng thread off
     * ({@code rng_core.default_quality=0}) the only readers are the driver's probe and dd, both
     * taking the device's bytes in order.
     */
    @Test
    void virtioRngPciFeedsTheGuestsHwrng(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        String cmd = "ls /sys/bus/pci/devices; cat /sys/class/misc/hw_random/rng_current; "
            + "dd if=/dev/hwrng bs=16 count=2 2>/dev/null | od -An -tx1; grep virtio0-input /proc/interrupts; "
            + "echo host-bridge-config=$(wc -c < /sys/bus/pci/devices/0000:00:00.0/config); "
            + "grep virtio-pci-modern /proc/iomem; echo uuid=$(cat /sys/class/dmi/id/product_uuid) "
            + "vendor=$(cat /sys/class/dmi/id/sys_vendor); "
            + "echo +1 > /sys/class/rtc/rtc0/wakealarm; sleep 2; grep rtc0 /proc/interrupts";
        String b64 = java.util.Base64.getEncoder().encodeToString(cmd.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        byte[] entropy = new byte[1 << 20];
        new java.util.Random(42).nextBytes(entropy);
        java.nio.file.Path file = java.nio.file.Files.write(dir.resolve("entropy.bin"), entropy);
        var r = JvisorProcess.run(boot(DemoGuest.CONSOLE + " rng_core.default_quality=0 jvisor.cmd=b64:" + b64,
            "-object", "rng-random,id=rng0,filename=" + file, "-device", "virtio-rng-pci,rng=rng0,max-bytes=65536,period=1000",
            "-uuid", "c0ffee00-1234-5678-9abc-def012345678"));
        String out = r.stdout();
        assertTrue(out.contains("pci 0000:00:01.0: [1af4:1044]"), r.toString());
        assertTrue(out.contains("0000:00:00.0  0000:00:01.0"), r.toString());
        assertTrue(out.contains("virtio_rng.0"), r.toString());
        assertTrue(out.contains("PCI: MMCONFIG at [mem 0xe0000000-0xefffffff] reserved in ACPI motherboard resources"),
            r.toString());
        assertTrue(out.contains("host-bridge-config=4096"), "extended config space through ECAM: " + r);
        assertTrue(out.contains("uuid=c0ffee00-1234-5678-9abc-def012345678 vendor=jvisor"), "SMBIOS type 1: " + r);
        assertTrue(out.lines().anyMatch(l -> l.trim().matches("1[0-9a-f]{8}-1[0-9a-f]{8} : virtio-pci-modern")),
            "the 64-bit BAR above 4 GiB: " + r);
        // hwrng hands a read's bytes out from the end of its buffer, 16 at a time here: each line is
        // a run of the file, the two in either order
        java.util.List<String> lines = out.lines().filter(l -> l.matches("( [0-9a-f]{2}){16}")).map(l -> l.replace(" ", "")).toList();
        assertEquals(2, lines.size(), "32 bytes of entropy: " + r);
        String hex = java.util.HexFormat.of().formatHex(entropy);
        for (String line : lines) {
            assertTrue(hex.indexOf(line) % 2 == 0, "16 bytes the guest read are a run of the rng-random file: " + line + " " + r);
        }
        assertTrue(out.lines().anyMatch(l -> l.contains("PCI-MSI") && l.contains("virtio0-input")
            && !l.trim().startsWith("0") && !l.matches("\\s*\\d+:\\s+0\\s.*")), "MSI-X delivered: " + r);
        assertTrue(out.lines().anyMatch(l -> l.matches("\\s*8:\\s+[1-9]\\d*\\s+IO-APIC\\s+8-edge\\s+rtc0")),
            "the RTC's alarm interrupt: " + r);
        assertTrue(out.contains("jvisor-guest: command exited with status 0"), r.toString());
        assertEquals(0, r.status(), r.toString());
    }

    /**
     * virtio-blk over PCI: the guest reads a sector the host wrote, writes one the host reads back
     * after power-off, and cannot write a readonly=on disk.
     */
    @Test
    void virtioBlkReadsAndWritesTheImageAndHonoursReadonly(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path rw = dir.resolve("rw.img");
        java.nio.file.Path ro = dir.resolve("ro.img");
        byte[] image = new byte[8 << 20];
        byte[] sector = new byte[512];
        for (int i = 0; i < 512; i++) {
            sector[i] = (byte) (i * 7 + 3);
        }
        System.arraycopy(sector, 0, image, 100 * 512, 512);
        java.nio.file.Files.write(rw, image);
        java.nio.file.Files.write(ro, image);
        String md5 = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("MD5").digest(sector));
        String cmd = "dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | md5sum; "
            + "echo jvisor-wrote-this > /tmp/w; dd if=/tmp/w of=/dev/vda bs=512 seek=200 conv=sync 2>/dev/null; sync; "
            + "echo vdb-ro=$(cat /sys/block/vdb/ro); dd if=/tmp/w of=/dev/vdb bs=512 seek=200 conv=sync 2>/dev/null; "
            + "echo vdb-write-status=$?";
        String b64 = java.util.Base64.getEncoder().encodeToString(cmd.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        var r = JvisorProcess.run(boot(DemoGuest.CONSOLE + " jvisor.cmd=b64:" + b64,
            "-drive", "file=" + rw + ",format=raw,if=virtio",
            "-drive", "id=disk1,file=" + ro + ",format=raw,if=none,readonly=on",
            "-device", "virtio-blk-pci,drive=disk1"));
        String out = r.stdout();
        assertTrue(out.contains(md5 + "  -"), "the guest read the host's sector: " + r);
        assertTrue(out.contains("vdb-ro=1"), r.toString());
        assertTrue(out.lines().anyMatch(l -> l.startsWith("vdb-write-status=") && !l.equals("vdb-write-status=0")),
            "a write to the read-only disk fails: " + r);
        assertEquals(0, r.status(), r.toString());
        byte[] back = java.util.Arrays.copyOfRange(java.nio.file.Files.readAllBytes(rw), 200 * 512, 200 * 512 + 17);
        assertEquals("jvisor-wrote-this", new String(back, java.nio.charset.StandardCharsets.US_ASCII));
        byte[] untouched = java.util.Arrays.copyOfRange(java.nio.file.Files.readAllBytes(ro), 200 * 512, 201 * 512);
        assertEquals(0, untouched[0], "the read-only image is unchanged");
    }

    /**
     * The kernel decompresses itself (kernel-decompress=guest), and its reboot with -no-reboot ends
     * jvisor with status 0, saying why, as QEMU does. One boot for both: each guest boot costs the
     * test suite seconds. The decompressor (and its KASLR) leaves the RNG seed's setup_data node
     * for the kernel.
     */
    @Test
    void bootsWithTheGuestSideDecompressorAndItsRebootEndsJvisor() throws Exception {
        var r = JvisorProcess.run(boot(DemoGuest.CONSOLE + " jvisor.test=LINUX-BOOT-MARKER-5 jvisor.exit=reboot",
            "-machine", "pc,kernel-decompress=guest"));
        assertTrue(r.stdout().lines().anyMatch("LINUX-BOOT-MARKER-5"::equals), r.toString());
        assertTrue(r.stdout().contains("[    0.000000] random: crng init done"), r.toString());
        assertTrue(r.stdout().contains("reboot: Restarting system"), r.toString());
        assertTrue(r.stderr().contains("-no-reboot given, exiting"), r.toString());
        assertEquals(0, r.status(), r.toString());
    }

    /**
     * Without the LAPIC the kernel runs on the 8259 PIC and the PIT's one-shot mode: it must not
     * lose its tick. With rng-seed=off (on this boot, to spare the suite one) the kernel gets no
     * seed, so its generator is not ready at once.
     */
    @Test
    void bootsAndPowersOffOnThePicAndPit() throws Exception {
        var r = JvisorProcess.run(boot(DemoGuest.CONSOLE + " nolapic jvisor.test=LINUX-BOOT-MARKER-3",
            "-machine", "pc,rng-seed=off"));
        assertTrue(r.stdout().lines().anyMatch("LINUX-BOOT-MARKER-3"::equals), r.toString());
        assertTrue(r.stdout().contains("Run /init as init process"), r.toString());
        assertFalse(r.stdout().contains("[    0.000000] random: crng init done"), r.toString());
        assertEquals(0, r.status(), r.toString());
    }

    /**
     * -smp 2: the BSP brings the AP up with INIT/SIPI through the LAPIC models. Without -no-reboot
     * a guest reboot resets the machine: devices and both vCPUs back to power-on, the kernel
     * loaded again; the second boot brings the AP up again and finds virtio-rng working. In the
     * translated set (every block translated, a boot several times slower) one boot and the
     * start of the next: the reboot drops the first boot's units by reloading the kernel over
     * them, and the default run's second boot already runs units made again after that drop.
     */
    @TranslatedToo
    @Test
    void bootsWithTwoVcpusAndRebootsIntoTheSameMachine() throws Exception {
        String cmd = "echo cpus=$(nproc) rng=$(dd if=/dev/hwrng bs=8 count=1 2>/dev/null | wc -c)";
        String b64 = java.util.Base64.getEncoder().encodeToString(cmd.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        try (JvisorSession s = JvisorSession.start("-accel", "tcg", "-m", "512M", "-nographic", "-smp", "2",
                "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
                "-device", "virtio-rng-pci", "-append", DemoGuest.CONSOLE + " jvisor.exit=reboot jvisor.cmd=b64:" + b64)) {
            int boots = JitOptions.fromSystemProperties().threshold() == 0 ? 1 : 2;
            for (int boot = 1; boot <= boots; boot++) {
                s.expect("Linux version");
                s.expect("smp: Brought up 1 node, 2 CPUs");
                s.expect("cpus=2 rng=8");
            }
            s.expect("Linux version"); // and the next boot begins
            s.send("\u0001x"); // Ctrl-A x: quit, as in QEMU
            assertEquals(0, s.waitFor(), s.transcript());
        }
    }

    /**
     * A command typed into the shell, and a 6 KiB paste. Not in the translated run (CI time): the
     * two tests above already boot and run a shell command with every block translated.
     */
    @Test
    void aCommandTypedIntoTheShellRunsAndPoweroffEndsJvisor() throws Exception {
        try (JvisorSession s = JvisorSession.start(boot(DemoGuest.CONSOLE + " quiet"))) {
            s.expect("jvisor-guest: ready");
            s.send("echo $((6 * 7))-answer; uname -r\n");
            s.expect("42-answer");
            s.expect(guest.kernelVersion());
            // A paste: 6 KiB in one write reaches the shell whole (the UART's FIFO and the
            // console backend hold what the guest has not read yet; nothing is dropped).
            StringBuilder paste = new StringBuilder();
            for (int i = 0; i < 96; i++) {
                paste.append(String.format("line %02d ", i)).append("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW\n");
            }
            String md5 = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("MD5")
                .digest(paste.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
            s.send("cat > /tmp/paste\n");
            s.send(paste + "\u0004");
            s.send("md5sum /tmp/paste; wc -c < /tmp/paste\n");
            s.expect(md5 + "  /tmp/paste");
            s.send("poweroff -f\n");
            assertEquals(0, s.waitFor(), s.transcript());
        }
    }
}
