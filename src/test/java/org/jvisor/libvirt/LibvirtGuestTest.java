package org.jvisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.ChildJvm;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;

/**
 * Debian's libvirt 9.0 drives jvisor as its QEMU: a private libvirtd (tools/libvirt-sandbox.sh:
 * its own mount namespace and directories, nothing of the host's libvirt touched) probes jvisor
 * (virsh domcapabilities), defines and starts a domain with the demo guest's kernel and initrd, a
 * virtio disk and a pty serial console, and the test reads the console until the guest's shell
 * answers; then suspend and resume, shutdown through the guest's ACPI power button (libvirt
 * sees SHUTDOWN and marks the domain shut off), and destroy of a second start. Every QMP command
 * libvirt sent must have succeeded or failed as libvirt expects (its log has no failed command).
 */
@GuestTest
class LibvirtGuestTest {
    private static final Duration HANG_GUARD = Duration.ofMinutes(5);
    private static final Path LIBVIRTD = Path.of("/usr/sbin/libvirtd");
    private static final Path VIRSH = Path.of("/usr/bin/virsh");

    @Test
    void virshDrivesJvisorFromDefineToDestroy(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(LIBVIRTD) && Files.isExecutable(VIRSH),
            "libvirt is not installed (Debian packages libvirt-daemon-driver-qemu, libvirt-daemon, libvirt-clients): skipped");
        assumeTrue("root".equals(System.getProperty("user.name")), "libvirt's system daemon needs root: skipped");
        GuestBuilder.Guest guest = DemoGuest.build();
        Path emulator = emulatorScript(dir);
        Path disk = dir.resolve("disk.img");
        try (var f = Files.newByteChannel(disk, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            f.position((16 << 20) - 1).write(java.nio.ByteBuffer.wrap(new byte[1]));
        }
        Path lv = dir.resolve("lv");
        Process daemon = new ProcessBuilder(Path.of(System.getProperty("jvisor.root", "."), "tools/libvirt-sandbox.sh").toString(),
            lv.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("libvirtd.out").toFile()).start();
        Virsh virsh = new Virsh("qemu:///system?socket=" + lv.resolve("run/libvirt-sock"));
        try {
            await(() -> Files.exists(lv.resolve("run/libvirt-sock")) || !daemon.isAlive(), "libvirtd's socket");
            assertTrue(daemon.isAlive(), () -> "libvirtd ended: " + read(dir.resolve("libvirtd.out")));

            String caps = virsh.run("domcapabilities", "--emulatorbin", emulator.toString(), "--arch", "x86_64", "--virttype", "qemu");
            assertTrue(caps.contains("<machine>pc-i440fx-7.2</machine>"), caps);

            Path xml = dir.resolve("domain.xml");
            Path first = medium(dir.resolve("first.iso"), 1);
            Path second = medium(dir.resolve("second.iso"), 2);
            Files.writeString(xml, domainXml(emulator, guest, disk, first));
            virsh.run("define", xml.toString());
            virsh.run("start", "jv");
            String pty = virsh.run("ttyconsole", "jv").strip();
            assertTrue(pty.startsWith("/dev/pts/"), pty);
            try (Console console = new Console(Path.of(pty))) {
                console.await("jvisor:/# ");
                console.type("echo LIBVIRT-$((6*7)); ls /sys/bus/pci/devices\n");
                console.await("LIBVIRT-42");
                console.await("0000:00:02.0");      // the disk where libvirt's addr=0x2 put it
                // virsh change-media: libvirt's blockdev-add, blockdev-remove-medium, blockdev-insert-medium,
                // blockdev-del; the guest then reads the new medium
                assertTrue(virsh.run("domblklist", "jv").contains(first.toString()));
                virsh.run("change-media", "jv", "hdc", second.toString(), "--update", "--live");
                assertTrue(virsh.run("domblklist", "jv").contains(second.toString()), virsh.run("domblklist", "jv"));
                String md5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(Files.readAllBytes(second)));
                console.type("n=0; while [ $n -lt 50 ]; do S=$(dd if=/dev/sr0 bs=2048 2>/dev/null | md5sum | cut -c1-32); "
                    + "[ $S = " + md5 + " ] && break; n=$((n+1)); sleep 0.1; done; echo CD-$S-$((1+1))\n");
                console.await("CD-" + md5 + "-2");
                virsh.run("change-media", "jv", "hdc", "--eject", "--live");
                assertTrue(virsh.run("domblklist", "jv").lines().anyMatch(l -> l.strip().matches("hdc\\s+-")),
                    virsh.run("domblklist", "jv"));
            }
            // the guest read its disk (the partition table at least): query-blockstats counted it
            String blkstat = virsh.run("domblkstat", "jv", "vda");
            long readBytes = Long.parseLong(blkstat.replaceAll("(?s).*vda rd_bytes (\\d+).*", "$1"));
            assertTrue(readBytes >= 512, blkstat);
            virsh.run("suspend", "jv");
            assertEquals("paused", virsh.state("jv"));
            virsh.run("resume", "jv");
            assertEquals("running", virsh.state("jv"));
            virsh.run("shutdown", "jv");
            await(() -> virsh.stateQuietly("jv").equals("shut off"), "the guest to power off after virsh shutdown");
            String qemuLog = read(lv.resolve("log/qemu/jv.log"));
            assertTrue(qemuLog.contains("shutting down, reason=shutdown"), qemuLog);

            virsh.run("start", "jv");
            assertEquals("running", virsh.state("jv"));
            virsh.run("destroy", "jv");
            assertEquals("shut off", virsh.state("jv"));

            String log = read(lv.resolve("log/libvirtd.log"));
            List<String> failed = log.lines().filter(l -> l.contains("unable to execute QEMU command")).toList();
            assertTrue(failed.isEmpty(), "QMP commands libvirt needed failed:\n" + String.join("\n", failed));
        } finally {
            daemon.destroy();           // SIGTERM: libvirtd ends; its domains are already shut off
            if (!daemon.waitFor(60, TimeUnit.SECONDS)) {
                daemon.destroyForcibly();
            }
        }
    }

    /** A CD-ROM image of 256 random 2 KiB blocks. */
    private static Path medium(Path file, long seed) throws IOException {
        byte[] b = new byte[256 * 2048];
        new Random(seed).nextBytes(b);
        return Files.write(file, b);
    }

    /** The emulator libvirt runs: this build of jvisor in a JVM, as the launcher runs it. */
    private static Path emulatorScript(Path dir) throws IOException {
        String cmd = ChildJvm.command(List.of(), "org.jvisor.cli.Main").stream()
            .map(a -> "'" + a.replace("'", "'\\''") + "'").collect(Collectors.joining(" "));
        Path script = dir.resolve("jvisor-emulator");
        Files.writeString(script, "#!/bin/sh\nexec " + cmd + " \"$@\"\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    private static String domainXml(Path emulator, GuestBuilder.Guest guest, Path disk, Path cdrom) {
        return """
            <domain type='qemu'>
              <name>jv</name>
              <memory unit='MiB'>256</memory>
              <vcpu>1</vcpu>
              <os>
                <type arch='x86_64' machine='pc'>hvm</type>
                <kernel>%s</kernel>
                <initrd>%s</initrd>
                <cmdline>console=ttyS0 cryptomgr.notests quiet</cmdline>
              </os>
              <features><acpi/></features>
              <devices>
                <emulator>%s</emulator>
                <disk type='file' device='disk'>
                  <driver name='qemu' type='raw'/>
                  <source file='%s'/>
                  <target dev='vda' bus='virtio'/>
                </disk>
                <disk type='file' device='cdrom'>
                  <driver name='qemu' type='raw'/>
                  <source file='%s'/>
                  <target dev='hdc' bus='ide'/>
                  <readonly/>
                </disk>
                <serial type='pty'><target port='0'/></serial>
                <console type='pty'><target type='serial' port='0'/></console>
                <controller type='usb' model='none'/>
                <memballoon model='none'/>
              </devices>
            </domain>
            """.formatted(guest.kernel(), guest.initramfs(), emulator, disk, cdrom);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + HANG_GUARD.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("hang guard: no " + what + " after " + HANG_GUARD);
            }
            Thread.sleep(200);
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return "(" + p + ": " + e.getMessage() + ")";
        }
    }

    /** virsh against the private daemon. */
    private record Virsh(String uri) {
        String run(String... args) throws IOException, InterruptedException {
            List<String> cmd = new ArrayList<>(List.of(VIRSH.toString(), "-c", uri));
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            assertTrue(p.waitFor(HANG_GUARD.toSeconds(), TimeUnit.SECONDS), "virsh " + String.join(" ", args) + ": hang guard");
            String text = new String(out, StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), () -> "virsh " + String.join(" ", args) + ":\n" + text);
            return text;
        }

        String state(String domain) throws IOException, InterruptedException {
            return run("domstate", domain).strip();
        }

        String stateQuietly(String domain) {
            try {
                return state(domain);
            } catch (IOException | InterruptedException | AssertionError e) {
                return "";
            }
        }
    }

    /** The guest's serial console through libvirt's pty: read on a thread, written as typed. */
    private static final class Console implements AutoCloseable {
        private final InputStream in;
        private final OutputStream out;
        private final StringBuilder seen = new StringBuilder();
        private final Thread reader;

        Console(Path pty) throws IOException {
            in = new FileInputStream(pty.toFile());
            out = new FileOutputStream(pty.toFile());
            reader = Thread.ofPlatform().daemon().start(() -> {
                byte[] b = new byte[1024];
                try {
                    for (int n; (n = in.read(b)) > 0; ) {
                        synchronized (seen) {
                            seen.append(new String(b, 0, n, StandardCharsets.ISO_8859_1));
                        }
                    }
                } catch (IOException e) {
                    // closed
                }
            });
        }

        void await(String text) throws InterruptedException {
            long end = System.nanoTime() + HANG_GUARD.toNanos();
            while (true) {
                synchronized (seen) {
                    if (seen.indexOf(text) >= 0) {
                        return;
                    }
                    assertFalse(System.nanoTime() > end, "hang guard: no '" + text + "' on the console; it shows:\n" + seen);
                }
                Thread.sleep(100);
            }
        }

        void type(String text) throws IOException {
            out.write(text.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        @Override
        public void close() throws IOException {
            out.close();
            in.close();
        }
    }
}
