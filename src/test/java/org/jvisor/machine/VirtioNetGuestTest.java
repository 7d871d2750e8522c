package org.jvisor.machine;

import org.jvisor.testing.DemoGuest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * virtio-net over a TAP device the test creates (and removes), with the demo Linux guest on tcg,
 * on the pc machine (virtio-net-pci) and on microvm (virtio-net-device):
 * the guest configures eth0, pings the host end of the tap, sends a file to a Java ServerSocket
 * over TCP and receives one from another; both arrive with the same MD5. A unique tap name and
 * subnet per run; skipped (with the reason) where the test cannot create a tap (not root).
 */
@GuestTest
class VirtioNetGuestTest {
    private static GuestBuilder.Guest guest;
    private final long pid = ProcessHandle.current().pid();
    private final String tap = "jvn" + pid % 100000;
    private final String subnet = "10.198." + (pid % 250 + 1);
    private final String hostIp = subnet + ".1";
    private final String guestIp = subnet + ".2";

    @BeforeAll
    static void buildGuest() throws IOException {
        guest = DemoGuest.build();
    }

    private static String run(String... cmd) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            return String.join(" ", cmd) + ": " + e.getMessage(); // no ip(8): the tests skip
        }
        String out = new String(p.getInputStream().readAllBytes());
        int status = p.waitFor();
        return status == 0 ? "" : String.join(" ", cmd) + ": " + out.trim() + " (status " + status + ")";
    }

    @BeforeEach
    void createTap() throws Exception {
        String err = run("ip", "tuntap", "add", tap, "mode", "tap");
        Assumptions.assumeTrue(err.isEmpty(), "skipped: cannot create a tap device: " + err);
        assertEquals("", run("ip", "addr", "add", hostIp + "/24", "dev", tap));
        assertEquals("", run("ip", "link", "set", tap, "up"));
    }

    @AfterEach
    void removeTap() throws Exception {
        run("ip", "link", "del", tap);
    }

    private static String md5(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(b));
    }

    /**
     * On pc the NIC is a PCI function (MSI-X); on microvm a virtio-mmio window the DSDT announces;
     * on q35-iommu a PCI function behind the VT-d unit (iommu_platform=on, strict invalidation):
     * both queues' DMA translated, from the I/O thread and the tap's reader at once.
     */
    @ParameterizedTest
    @ValueSource(strings = {"pc", "microvm", "q35-iommu"})
    void guestPingsTheHostAndFilesCrossTcpBothWays(String machine) throws Exception {
        InetAddress host = InetAddress.getByName(hostIp);
        int upBytes = 300 * 1024;
        byte[] down = new byte[200 * 1024];
        new Random(pid).nextBytes(down);
        try (ServerSocket up = new ServerSocket(0, 1, host); ServerSocket dn = new ServerSocket(0, 1, host)) {
            // guest -> host: read exactly the file, then close (so the guest's nc ends either way)
            CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
                try (Socket s = up.accept(); InputStream in = s.getInputStream()) {
                    return in.readNBytes(upBytes);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            // host -> guest: send the file, then close
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                try (Socket s = dn.accept(); OutputStream out = s.getOutputStream()) {
                    out.write(down);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            String cmd = String.join("; ",
                "ip addr add " + guestIp + "/24 dev eth0", "ip link set eth0 up",
                "echo mac=$(cat /sys/class/net/eth0/address)",
                "echo features=$(cat /sys/class/net/eth0/device/features)",
                "ping -c 3 -W 10 " + hostIp,
                "dd if=/dev/urandom of=/tmp/up bs=1024 count=" + upBytes / 1024 + " 2>/dev/null",
                "echo up-md5=$(md5sum < /tmp/up)",
                "nc " + hostIp + " " + up.getLocalPort() + " < /tmp/up; echo up-status=$?",
                "nc " + hostIp + " " + dn.getLocalPort() + " < /dev/null > /tmp/down; echo down-status=$?",
                "echo down-md5=$(md5sum < /tmp/down) down-bytes=$(wc -c < /tmp/down)");
            boolean iommu = machine.equals("q35-iommu");
            List<String> args = new ArrayList<>(List.of("-accel", "tcg", "-M", iommu ? "q35" : machine, "-m", "512M",
                "-nographic", "-no-reboot", "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
                "-append", DemoGuest.CONSOLE + " quiet " + (iommu ? "intel_iommu=on iommu.strict=1 " : "")
                    + InitScript.cmdParameterBase64(cmd),
                "-netdev", "tap,id=net0,ifname=" + tap + ",script=no,downscript=no",
                "-device", (machine.equals("microvm") ? "virtio-net-device" : "virtio-net-pci") + ",netdev=net0,mac=52:54:00:00:be:ef"
                    + (iommu ? ",iommu_platform=on" : "")));
            if (iommu) {
                args.addAll(List.of("-device", "intel-iommu"));
            }
            var r = JvisorProcess.run(args.toArray(new String[0]));
            String out = r.stdout();
            assertEquals(0, r.status(), r.toString());
            assertTrue(out.contains("mac=52:54:00:00:be:ef"), r.toString());
            String features = out.lines().filter(l -> l.startsWith("features=")).findFirst().orElse("features=").substring(9);
            assertTrue(features.length() > 32 && features.charAt(15) == '1' && features.charAt(0) == '1'
                && features.charAt(11) == '1', "MRG_RXBUF, CSUM and HOST_TSO4 negotiated: " + features);
            assertEquals(iommu, features.length() > 33 && features.charAt(33) == '1', "ACCESS_PLATFORM: " + features);
            assertTrue(out.contains("3 packets transmitted, 3 packets received"), r.toString());
            assertTrue(out.contains("up-status=0") && out.contains("down-status=0"), r.toString());
            byte[] got = received.get(10, TimeUnit.SECONDS);
            assertEquals(upBytes, got.length, r.toString());
            String upMd5 = out.lines().filter(l -> l.startsWith("up-md5=")).findFirst().orElse("").replace("up-md5=", "").trim();
            assertEquals(md5(got), upMd5.split("\\s+")[0], "guest -> host file intact: " + r);
            sent.get(10, TimeUnit.SECONDS);
            assertTrue(out.contains("down-md5=" + md5(down)) && out.contains("down-bytes=" + down.length),
                "host -> guest file intact (" + md5(down) + "): " + r);
        }
    }

    @Test
    void aBusyTapIsRefusedAtStartUp() throws Exception {
        List<String> args = new ArrayList<>(List.of("-accel", "tcg", "-nographic", "-kernel", guest.kernel().toString(),
            "-netdev", "tap,id=a,ifname=" + tap + ",script=no,downscript=no", "-device", "virtio-net-pci,netdev=a",
            "-netdev", "tap,id=b,ifname=" + tap + ",script=no,downscript=no", "-device", "virtio-net-pci,netdev=b"));
        var r = JvisorProcess.run(args.toArray(new String[0]));
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.stderr().contains("-netdev tap,id=b: tap '" + tap + "' is busy"), r.toString());
    }

    /**
     * -netdev tap,fd=N on a descriptor that is no tap (here stdin, a pipe) stops the start with
     * QEMU 7.2's words for it.
     */
    @Test
    void aDescriptorThatIsNoTapIsRefusedAtStartUp() throws Exception {
        var r = JvisorProcess.run("-accel", "tcg", "-nographic", "-kernel", guest.kernel().toString(),
            "-netdev", "tap,id=n0,fd=0", "-device", "virtio-net-pci,netdev=n0");
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.stderr().contains("-netdev tap,id=n0,fd=0: Unable to query TUNGETIFF on FD 0: Inappropriate ioctl for device"),
            r.toString());
    }

    /**
     * Opens /dev/net/tun, attaches it to tap ARGV[0] (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, as libvirt
     * does for a virtio NIC), keeps it open across exec and runs the rest of ARGV with @FD@ replaced
     * by its number: libvirt's way of starting QEMU on a tap. perl, because Java cannot pass a
     * descriptor to a child; perl-base is essential on Debian.
     */
    private static final String ATTACH_AND_EXEC = String.join("\n",
        "use strict; use Fcntl;",
        "my $name = shift;",
        "sysopen(my $tun, '/dev/net/tun', O_RDWR) or die \"/dev/net/tun: $!\\n\";",
        "ioctl($tun, 0x400454ca, pack('Z16 s x22', $name, 0x5002)) or die \"TUNSETIFF $name: $!\\n\";",
        "fcntl($tun, F_SETFD, 0) or die \"F_SETFD: $!\\n\";",
        "my $fd = fileno($tun);",
        "exec(map { s/\\@FD\\@/$fd/gr } @ARGV); die \"exec $ARGV[0]: $!\\n\";");

    /** What the test opens itself to pass over QMP: /dev/net/tun attached to {@code name}, as libvirt opens it. */
    private static org.jvisor.sys.Fd attachTap(String name) throws Exception {
        org.jvisor.sys.Fd fd = org.jvisor.sys.Fd.open("/dev/net/tun", org.jvisor.sys.Fd.O_RDWR | org.jvisor.sys.Fd.O_CLOEXEC);
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment ifr = a.allocate(40, 8);
            ifr.setString(0, name);
            ifr.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 16, (short) 0x5002);   // IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
            fd.ioctl("TUNSETIFF", org.jvisor.sys.Ioctl.iow('T', 202, 4), ifr);
        } catch (org.jvisor.sys.SysException e) {
            fd.close();
            throw e;
        }
        return fd;
    }

    /** How many of jvisor's descriptors are /dev/net/tun. */
    private static long tunDescriptors(long pid) throws IOException {
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/" + pid + "/fd"))) {
            return fds.filter(f -> {
                try {
                    return java.nio.file.Files.readSymbolicLink(f).toString().equals("/dev/net/tun");
                } catch (IOException e) {
                    return false;   // closed meanwhile
                }
            }).count();
        }
    }

    /**
     * libvirt's taps, then a tap lost, on one boot. jvisor starts on a tap descriptor it inherited
     * (-netdev tap,fd=N in libvirt's JSON form) and the guest pings over it. A second tap, opened by
     * the test, is passed on the QMP socket with SCM_RIGHTS (getfd), then netdev_add tap,fd=NAME and
     * device_add virtio-net-pci plug it, as libvirt's attach-interface does (vhost=on: a warning,
     * as QEMU gives without vhost-net): the guest pings over that one too, and device_del plus
     * netdev_del close jvisor's descriptor of it. Then the first tap goes away under the running
     * guest (ip link del): the guest's frames are dropped (its ping gets no answer, as with a cable
     * pulled), jvisor says once what happened to the tap, and the guest and its console go on;
     * nothing spins or dies.
     */
    @Test
    void passedTapsCarryTrafficAndADeletedTapDropsFrames(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        String hotTap = "jvh" + pid % 100000;
        String hotSubnet = "10.199." + (pid % 250 + 1);
        String err = run("ip", "tuntap", "add", hotTap, "mode", "tap");
        Assumptions.assumeTrue(err.isEmpty(), "skipped: cannot create a tap device: " + err);
        java.nio.file.Path qmp = dir.resolve("qmp.sock");
        try {
            assertEquals("", run("ip", "addr", "add", hotSubnet + ".1/24", "dev", hotTap));
            assertEquals("", run("ip", "link", "set", hotTap, "up"));
            List<String> command = new ArrayList<>(List.of("perl", "-e", ATTACH_AND_EXEC, tap));
            command.addAll(JvisorProcess.command(List.of(), "-accel", "tcg", "-m", "256M",
                "-nographic", "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
                "-append", DemoGuest.CONSOLE + " quiet",
                "-netdev", "{\"type\":\"tap\",\"fd\":\"@FD@\",\"id\":\"net0\"}",
                "-device", "virtio-net-pci,netdev=net0", "-qmp", "unix:" + qmp + ",server=on,wait=off"));
            try (org.jvisor.testing.JvisorSession j = org.jvisor.testing.JvisorSession.startProgram(command)) {
                j.expect(org.jvisor.guest.InitScript.READY_LINE);
                j.send("ip addr add " + guestIp + "/24 dev eth0; ip link set eth0 up; ping -c 1 -W 10 " + hostIp
                    + " >/dev/null && echo pi''ng-ok\n");
                j.expect("ping-ok");
                assertEquals(1, tunDescriptors(j.pid()), "the inherited tap");

                String ok = "{\"return\": {}}";
                try (org.jvisor.testing.ScmQmpClient q = org.jvisor.testing.ScmQmpClient.connect(qmp)) {
                    try (org.jvisor.sys.Fd hot = attachTap(hotTap)) {
                        assertEquals(ok, q.execute("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"hostnet1-fd\"}}", hot));
                    }
                    // vhost=on: jvisor has no vhost-net and, as QEMU 7.2 without vhostforce, warns and serves the tap
                    assertEquals(ok, q.execute("{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"fd\":\"hostnet1-fd\","
                        + "\"vhost\":true,\"id\":\"hostnet1\"}}"));
                    assertEquals(ok, q.execute("{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-net-pci\","
                        + "\"netdev\":\"hostnet1\",\"id\":\"net1\",\"mac\":\"52:54:00:00:be:f1\"}}"));
                    j.send("while ! ip link show eth1 >/dev/null 2>&1; do sleep 0.1; done; ip addr add " + hotSubnet
                        + ".2/24 dev eth1; ip link set eth1 up; ping -c 1 -W 10 " + hotSubnet + ".1 >/dev/null && echo hot''-ping-ok\n");
                    j.expect("hot-ping-ok");
                    assertEquals(2, tunDescriptors(j.pid()), "the passed tap is jvisor's now");
                    assertEquals(ok, q.execute("{\"execute\":\"device_del\",\"arguments\":{\"id\":\"net1\"}}"));
                    q.awaitEvent("DEVICE_DELETED");
                    assertEquals(ok, q.execute("{\"execute\":\"netdev_del\",\"arguments\":{\"id\":\"hostnet1\"}}"));
                    assertEquals(1, tunDescriptors(j.pid()), "netdev_del closed it");
                }

                assertEquals("", run("ip", "link", "del", tap));
                j.send("ping -c 2 -W 1 " + hostIp + " >/dev/null; echo after''-status=$?\n");
                assertTrue(j.expect("after-status=").length() > 0);
                j.send("echo st''ill-here\n");
                j.expect("still-here");
                assertTrue(j.isAlive(), j.transcript());
                j.send("poweroff -f\n");
                assertEquals(0, j.waitFor(), j.transcript());
                assertTrue(j.stdout().contains("after-status=1"), "no answer once the tap is gone: " + j.transcript());
                assertTrue(j.stderr().contains(tap), "jvisor names the tap it lost: " + j.stderr());
                assertTrue(j.stderr().contains("-netdev tap,id=hostnet1,fd=") && j.stderr().contains(
                    "vhost-net requested but could not be initialized"), "the vhost=on warning: " + j.stderr());
                assertFalse(j.stderr().contains("internal error"), j.transcript());
            }
        } finally {
            run("ip", "link", "del", hotTap);
        }
    }
}
