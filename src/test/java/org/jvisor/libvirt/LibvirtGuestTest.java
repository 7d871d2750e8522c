package org.jvisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.ReportingBootSector;
import org.jvisor.testing.RequiredTools;

/**
 * Debian's libvirt 9.0 drives jvisor as its QEMU: a private libvirtd (tools/libvirt-sandbox.sh:
 * its own mount namespace and directories, nothing of the host's libvirt touched) probes jvisor
 * (virsh domcapabilities), defines and starts a domain with the demo guest's kernel and initrd, a
 * virtio disk and a pty serial console, and the test talks to the guest's shell through
 * {@code virsh console} (run on a pty of its own by script(1), as a user's terminal would), with
 * what virt-install adds to such a domain (an {@code <rng>} on /dev/urandom with a rate, no HPET,
 * vmport off, S3 and S4 off, the RTC's and PIT's tick policies) and libvirt's default memory
 * balloon, which virsh setmem inflates, and an {@code <interface type='ethernet'>} on a tap made
 * beforehand, which libvirt opens and passes (-netdev tap,fd=N); the guest pings over it, and over
 * a second one virsh attach-device plugs (getfd with SCM_RIGHTS, netdev_add tap,fd=NAME,
 * device_add) and detach-device takes out; then
 * suspend and resume, shutdown through the guest's ACPI power button (libvirt sees SHUTDOWN and
 * marks the domain shut off), and destroy of a second start. A q35 domain follows: libvirt puts its
 * virtio disk behind a pcie-root-port and its serial port on a file it opens itself and passes as
 * {@code -add-fd} (/dev/fdset/N); the guest lists its PCI functions and disk into that file and
 * powers off. Last a q35 domain without a kernel, as virt-install --import makes one: SeaBIOS boots
 * its disk (bootindex=1, behind a root port), whose boot sector reports on the serial port. Every
 * QMP command libvirt sent must have succeeded or failed as libvirt expects (its
 * log has no failed command).
 *
 * <p>The emulator is the launcher, {@code ./jvisor}, installed as a user would copy it: the script
 * with the jar beside it (target/jvisor.jar, here this build's packaged jar). libvirt clears the
 * environment of what it runs (PATH, HOME=/var/lib/libvirt/qemu/domain-N, XDG_*; no JAVA_HOME), so
 * JVISOR_NO_BUILD cannot reach the repository's launcher, which would build when the sources are
 * newer than its jar; installed, there are no sources to compare and it runs the jar it has.
 */
@GuestTest
class LibvirtGuestTest {
    private static final Duration HANG_GUARD = Duration.ofMinutes(5);
    private static final Path LIBVIRTD = Path.of("/usr/sbin/libvirtd");
    private static final Path VIRSH = Path.of("/usr/bin/virsh");
    private static final Path SCRIPT = Path.of("/usr/bin/script");

    @Test
    void virshDrivesJvisorFromDefineToDestroy(@TempDir Path dir) throws Exception {
        RequiredTools.assume(Files.isExecutable(LIBVIRTD) && Files.isExecutable(VIRSH),
            "libvirt is not installed (Debian packages libvirt-daemon-driver-qemu, libvirt-daemon, libvirt-clients): skipped");
        RequiredTools.assume("root".equals(System.getProperty("user.name")), "libvirt's system daemon needs root: skipped");
        RequiredTools.assume(Files.isExecutable(SCRIPT), "script(1) is not installed (apt-get install bsdutils)");
        GuestBuilder.Guest guest = DemoGuest.build();
        Path emulator = installedLauncher(dir.resolve("jvisor"));
        Path disk = dir.resolve("disk.img");
        try (var f = Files.newByteChannel(disk, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            f.position((16 << 20) - 1).write(java.nio.ByteBuffer.wrap(new byte[1]));
        }
        // two taps libvirt opens itself (<interface type='ethernet'>, managed='no'): one at start, one hot-plugged
        long pid = ProcessHandle.current().pid();
        String startTap = "jvla" + pid % 100000;
        String hotTap = "jvlb" + pid % 100000;
        String startNet = "10.212." + (pid % 250 + 1);
        String hotNet = "10.213." + (pid % 250 + 1);
        for (String[] t : new String[][] {{startTap, startNet}, {hotTap, hotNet}}) {
            ip("tuntap", "add", t[0], "mode", "tap");
            ip("addr", "add", t[1] + ".1/24", "dev", t[0]);
            ip("link", "set", t[0], "up");
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
            Files.writeString(xml, domainXml(emulator, guest, disk, first, startTap));
            virsh.run("define", xml.toString());
            virsh.run("start", "jv");
            String pty = virsh.run("ttyconsole", "jv").strip();
            assertTrue(pty.startsWith("/dev/pts/"), pty);
            try (Console console = virsh.console("jv")) {
                console.await("jvisor:/# ");
                console.type("echo LIBVIRT-$((6*7)); ls /sys/bus/pci/devices; cat /sys/class/misc/hw_random/rng_current\n");
                console.await("LIBVIRT-42");
                console.await("0000:00:02.0");      // the disk where libvirt's addr=0x2 put it
                console.await("virtio_rng.0");      // <rng>: -object rng-random and virtio-rng-pci,rng=,max-bytes=,period=
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
                // virsh attach-disk --live: libvirt's blockdev-add of the image's nodes and device_add of a
                // virtio-blk-pci on pc's root bus, which ACPI PCI hot-plug announces to the guest; the guest
                // reads the new disk. detach-disk: device_del, the guest's _EJ0, DEVICE_DELETED, blockdev-del.
                Path hot = medium(dir.resolve("hot.img"), 3);
                String hotMd5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(Files.readAllBytes(hot)));
                virsh.run("attach-disk", "jv", hot.toString(), "vdb", "--targetbus", "virtio", "--live");
                console.type("n=0; while [ ! -e /sys/block/vdb ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done; "
                    + "echo HOT-$(dd if=/dev/vdb bs=64k 2>/dev/null | md5sum | cut -c1-32)-$((2+1))\n");
                console.await("HOT-" + hotMd5 + "-3");
                virsh.run("detach-disk", "jv", "vdb", "--live");
                await(() -> !quietly(() -> virsh.run("domblklist", "jv")).contains("vdb"), "libvirt to see vdb gone");
                console.type("ls /sys/block | tr '\\n' ' '; echo BLOCKS-$((3+1))\n");
                console.await("vda BLOCKS-4");      // the guest let go of vdb
                // the NIC of the domain's XML: libvirt opened its tap and passed it on the command line
                // (-netdev tap,fd=N); the guest pings the host's end
                console.type("ip addr add " + startNet + ".2/24 dev eth0; ip link set eth0 up; ping -c 1 -W 10 " + startNet
                    + ".1 >/dev/null && echo NIC-$((4+1))\n");
                console.await("NIC-5");
                // virsh attach-device --live of another: libvirt opens the tap, passes it with getfd
                // (SCM_RIGHTS), then netdev_add tap,fd=NAME and device_add virtio-net-pci; the guest pings
                // over it. detach-device: device_del, the guest's _EJ0, DEVICE_DELETED, netdev_del
                Path nic = dir.resolve("nic.xml");
                Files.writeString(nic, "<interface type='ethernet'><target dev='" + hotTap + "' managed='no'/>"
                    + "<mac address='52:54:00:00:be:f2'/><model type='virtio'/></interface>");   // the MAC tells detach-device which
                virsh.run("attach-device", "jv", nic.toString(), "--live");
                console.type("n=0; while ! ip link show eth1 >/dev/null 2>&1 && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done; "
                    + "ip addr add " + hotNet + ".2/24 dev eth1; ip link set eth1 up; ping -c 1 -W 10 " + hotNet
                    + ".1 >/dev/null && echo HOTNIC-$((5+1))\n");
                console.await("HOTNIC-6");
                virsh.run("detach-device", "jv", nic.toString(), "--live");
                await(() -> !quietly(() -> virsh.run("domiflist", "jv")).contains(hotTap), "libvirt to see the NIC gone");
                console.type("ls /sys/class/net | tr '\\n' ' '; echo NETS-$((6+1))\n");
                console.await("eth0 lo NETS-7");    // the guest let go of eth1
            }
            // the guest read its disk (the partition table at least): query-blockstats counted it
            String blkstat = virsh.run("domblkstat", "jv", "vda");
            long readBytes = Long.parseLong(blkstat.replaceAll("(?s).*vda rd_bytes (\\d+).*", "$1"));
            assertTrue(readBytes >= 512, blkstat);
            // libvirt's default <memballoon> (none given: virtio-balloon-pci,id=balloon0): virsh setmem
            // sends QMP balloon, the guest's driver inflates the rest, and libvirt follows it through
            // BALLOON_CHANGE and query-balloon
            virsh.run("setmem", "jv", "200M", "--live");
            await(() -> quietly(() -> virsh.run("dominfo", "jv")).matches("(?s).*Used memory:\\s+204800 KiB.*"),
                "the guest's balloon to leave it 200 MiB");
            assertTrue(virsh.run("dommemstat", "jv").contains("actual 204800"), virsh.run("dommemstat", "jv"));
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

            // q35: libvirt's pcie-root-ports, the disk behind the first; the serial port on a file
            // libvirt opens and passes (-add-fd); the guest writes what it sees there and powers off
            Path serialLog = dir.resolve("q35-serial.log");
            Path q35Xml = dir.resolve("q35.xml");
            Files.writeString(q35Xml, q35DomainXml(emulator, guest, disk, serialLog));
            virsh.run("define", q35Xml.toString());
            virsh.run("start", "jq");
            // virsh attach-disk on q35: device_add behind libvirt's spare pcie-root-port, which ACPI PCI
            // hot-plug announces to the guest's acpiphp (QEMU 7.2's default; the DSDT's _OSC keeps native
            // hot-plug from pciehp); detach-disk: the eject request, the port's S00._EJ0, DEVICE_DELETED
            await(() -> quietly(() -> read(serialLog)).contains("\n32768"), "the q35 guest to read its disk's size");
            Path hotQ35 = medium(dir.resolve("hot-q35.img"), 4);
            String hotQ35Md5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(Files.readAllBytes(hotQ35)));
            virsh.run("attach-disk", "jq", hotQ35.toString(), "vdb", "--targetbus", "virtio", "--live");
            await(() -> quietly(() -> read(serialLog)).contains("HOT-" + hotQ35Md5), "the q35 guest to read the plugged disk");
            long detach = System.nanoTime();
            virsh.run("detach-disk", "jq", "vdb", "--live");
            await(() -> quietly(() -> read(serialLog)).contains("UNPLUGGED"), "the q35 guest to let go of the disk");
            System.out.printf("q35 detach-disk until the guest had no vdb: %.2f s%n", (System.nanoTime() - detach) / 1e9);
            await(() -> virsh.stateQuietly("jq").equals("shut off"), "the q35 guest to run its command and power off");
            String q35Log = read(lv.resolve("log/qemu/jq.log"));
            assertTrue(q35Log.contains("-machine pc-q35-7.2") && q35Log.contains("pcie-root-port"), q35Log);
            assertTrue(q35Log.matches("(?s).*-add-fd set=(\\d+),fd=\\d+.*-chardev file,id=charserial0,path=/dev/fdset/\\1.*"), q35Log);
            String serial = read(serialLog);
            // 0N:00.0: the disk behind the root port libvirt gave it (the other one stays free for the
            // hot-plug above); its 16 MiB read as 32768 sectors
            assertTrue(serial.matches("(?s).*0000:00:0\\p{XDigit}\\.0.*0000:0[1-9]:00\\.0.*"), serial);
            assertTrue(serial.contains("\n32768") && serial.contains("command exited with status 0"), serial);
            // acpiphp took both ports' slots, pciehp none
            assertTrue(serial.contains("acpiphp: Slot [0] registered"), serial);
            assertEquals(2, serial.split("acpiphp: Slot \\[0[^]]*\\] registered", -1).length - 1, serial);
            assertFalse(serial.contains("] pciehp"), serial);

            // q35 without <kernel>: SeaBIOS boots the disk (bootindex=1 behind libvirt's first root
            // port); its boot sector prints on the serial port and halts
            Path firmwareSerial = dir.resolve("q35-firmware-serial.log");
            Path mbrDisk = dir.resolve("mbr.img");
            byte[] image = new byte[1 << 20];
            System.arraycopy(ReportingBootSector.bytes(), 0, image, 0, 512);
            Files.write(mbrDisk, image);
            Path q35FirmwareXml = dir.resolve("q35-firmware.xml");
            Files.writeString(q35FirmwareXml, q35FirmwareDomainXml(emulator, mbrDisk, firmwareSerial));
            virsh.run("define", q35FirmwareXml.toString());
            virsh.run("start", "jf");
            await(() -> Files.exists(firmwareSerial) && read(firmwareSerial).contains(ReportingBootSector.VIA_COM1),
                "SeaBIOS to boot the q35 domain's disk");
            virsh.run("destroy", "jf");
            String firmwareLog = read(lv.resolve("log/qemu/jf.log"));
            assertTrue(firmwareLog.contains("bootindex=1") && !firmwareLog.contains("-kernel"), firmwareLog);

            String log = read(lv.resolve("log/libvirtd.log"));
            assertTrue(log.contains("\"execute\":\"getfd\"") && log.contains("\"type\":\"tap\",\"fd\":\""),
                "libvirt passed the hot-plugged tap with getfd and netdev_add tap,fd=NAME");
            List<String> failed = log.lines().filter(l -> l.contains("unable to execute QEMU command")).toList();
            assertTrue(failed.isEmpty(), "QMP commands libvirt needed failed:\n" + String.join("\n", failed));
        } finally {
            // a failed step leaves its domain running, and libvirtd's end does not stop its domains
            for (String domain : quietly(() -> virsh.run("list", "--name")).strip().split("\\s+")) {
                if (!domain.isEmpty()) {
                    quietly(() -> virsh.run("destroy", domain));
                }
            }
            daemon.destroy();           // SIGTERM: libvirtd ends; its domains are shut off
            ip("link", "del", startTap);
            ip("link", "del", hotTap);
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

    /**
     * The launcher installed in {@code root}: ./jvisor copied, with this build's packaged jar as
     * root/target/jvisor.jar (mvn verify packages before the guest tests run).
     */
    private static Path installedLauncher(Path root) throws IOException {
        Path repo = Path.of(System.getProperty("jvisor.root", "."));
        Path jar;
        try (var jars = Files.list(repo.resolve("target"))) {
            jar = jars.filter(p -> p.getFileName().toString().matches("jvisor-[0-9].*(?<!-sources|-javadoc)\\.jar")).findFirst()
                .orElseThrow(() -> new AssertionError("no packaged jar in " + repo.resolve("target") + " (run mvn verify, not the test alone)"));
        }
        Files.createDirectories(root.resolve("target"));
        Files.copy(jar, root.resolve("target/jvisor.jar"));
        Path launcher = Files.copy(repo.resolve("jvisor"), root.resolve("jvisor"));
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        return launcher;
    }

    /** ip(8) (iproute2, which CI installs): what it printed. */
    private static String ip(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    /**
     * The pc domain; its NIC on tap {@code tap}, which libvirt opens and passes, at slot 8, so that
     * the disk keeps the slot (2) libvirt gives it without one.
     */
    private static String domainXml(Path emulator, GuestBuilder.Guest guest, Path disk, Path cdrom, String tap) {
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
              <features><acpi/><apic/><vmport state='off'/></features>
              <clock offset='utc'>
                <timer name='rtc' tickpolicy='catchup'/>
                <timer name='pit' tickpolicy='delay'/>
                <timer name='hpet' present='no'/>
              </clock>
              <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>
              <devices>
                <emulator>%s</emulator>
                <disk type='file' device='disk'>
                  <driver name='qemu' type='raw'/>
                  <source file='%s'/>
                  <target dev='vda' bus='virtio'/>
                </disk>
                <rng model='virtio'>
                  <backend model='random'>/dev/urandom</backend>
                  <rate bytes='4096' period='1000'/>
                </rng>
                <disk type='file' device='cdrom'>
                  <driver name='qemu' type='raw'/>
                  <source file='%s'/>
                  <target dev='hdc' bus='ide'/>
                  <readonly/>
                </disk>
                <serial type='pty'><target port='0'/></serial>
                <console type='pty'><target type='serial' port='0'/></console>
                <controller type='usb' model='none'/>
                <interface type='ethernet'>
                  <target dev='%s' managed='no'/>
                  <model type='virtio'/>
                  <address type='pci' domain='0x0000' bus='0x00' slot='0x08' function='0x0'/>
                </interface>
              </devices>
            </domain>
            """.formatted(guest.kernel(), guest.initramfs(), emulator, disk, cdrom, tap);
    }

    /** The q35 domain {@code name}: {@code os} boots it, a raw virtio disk, the serial port on a file. */
    private static String q35DomainXml(String name, int memoryMib, String os, Path emulator, Path disk, Path serialLog) {
        return """
            <domain type='qemu'>
              <name>%s</name>
              <memory unit='MiB'>%d</memory>
              <vcpu>1</vcpu>
              <os>
                <type arch='x86_64' machine='q35'>hvm</type>
            %s
              </os>
              <features><acpi/></features>
              <devices>
                <emulator>%s</emulator>
                <disk type='file' device='disk'>
                  <driver name='qemu' type='raw'/>
                  <source file='%s'/>
                  <target dev='vda' bus='virtio'/>
                </disk>
                <serial type='file'><source path='%s' append='on'/><target port='0'/></serial>
                <controller type='usb' model='none'/>
                <controller type='pci' index='1' model='pcie-root-port'/>
                <controller type='pci' index='2' model='pcie-root-port'/>
                <memballoon model='none'/>
              </devices>
            </domain>
            """.formatted(name, memoryMib, os.indent(4).stripTrailing(), emulator, disk, serialLog);
    }

    /**
     * The demo guest's kernel and initrd, whose command lists the PCI functions and the disk's size,
     * then waits for a disk to be plugged, reads it, and waits for it to go.
     */
    private static String q35DomainXml(Path emulator, GuestBuilder.Guest guest, Path disk, Path serialLog) {
        return q35DomainXml("jq", 256, """
            <kernel>%s</kernel>
            <initrd>%s</initrd>
            <cmdline>console=ttyS0 cryptomgr.notests quiet %s</cmdline>""".formatted(guest.kernel(), guest.initramfs(),
                InitScript.cmdParameter("ls /sys/bus/pci/devices; cat /sys/block/vda/size; "
                    + "n=0; while [ ! -e /sys/block/vdb ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done; "
                    + "echo HOT-$(dd if=/dev/vdb bs=64k 2>/dev/null | md5sum | cut -c1-32); "
                    + "while [ -e /sys/block/vdb ] && [ $n -lt 2400 ]; do sleep 0.1; n=$((n+1)); done; "
                    + "[ -e /sys/block/vdb ] || echo UNPLUGGED; dmesg | grep -e acpiphp -e pciehp")), emulator, disk, serialLog);
    }

    /** A q35 domain that boots its disk through firmware, as virt-install --import makes one. */
    private static String q35FirmwareDomainXml(Path emulator, Path disk, Path serialLog) {
        return q35DomainXml("jf", 128, "<boot dev='hd'/>", emulator, disk, serialLog);
    }

    /** What {@code call} returns, or "" when it fails (for polling). */
    private static String quietly(java.util.concurrent.Callable<String> call) {
        try {
            return call.call();
        } catch (Exception | AssertionError e) {
            return "";
        }
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

        /**
         * {@code virsh console DOMAIN --force} on a pseudo-terminal script(1) makes (virsh wants a
         * terminal): what the test writes is typed at it, what it prints is read.
         */
        Console console(String domain) throws IOException {
            Process p = new ProcessBuilder(SCRIPT.toString(), "-qfc", VIRSH + " -c '" + uri + "' console " + domain + " --force",
                "/dev/null").start();
            return new Console(p);
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

    /** The guest's serial console through virsh console: read on a thread, written as typed. */
    private static final class Console implements AutoCloseable {
        /** virsh console's escape, Ctrl-]: it leaves the console. */
        private static final int ESCAPE = 0x1D;
        private final Process process;
        private final InputStream in;
        private final OutputStream out;
        private final StringBuilder seen = new StringBuilder();

        Console(Process process) {
            this.process = process;
            in = process.getInputStream();
            out = process.getOutputStream();
            Thread.ofPlatform().daemon().start(() -> {
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
                assertTrue(process.isAlive(), () -> "virsh console ended; it showed:\n" + seen);
                Thread.sleep(100);
            }
        }

        void type(String text) throws IOException {
            out.write(text.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        /** Leaves the console with its escape and waits for virsh to end. */
        @Override
        public void close() throws IOException {
            try {
                out.write(ESCAPE);
                out.flush();
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            } finally {
                out.close();
            }
        }
    }
}
