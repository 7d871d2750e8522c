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
     * The tap goes away under a running guest (ip link del): the guest's frames are dropped (its
     * ping gets no answer, as with a cable pulled), jvisor says once what happened to the tap, and
     * the guest and its console go on; nothing spins or dies.
     */
    @Test
    void aTapDeletedUnderARunningGuestDropsFramesAndTheGuestGoesOn() throws Exception {
        try (org.jvisor.testing.JvisorSession j = org.jvisor.testing.JvisorSession.start("-accel", "tcg", "-m", "256M",
                "-nographic", "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
                "-append", DemoGuest.CONSOLE + " quiet",
                "-netdev", "tap,id=net0,ifname=" + tap + ",script=no,downscript=no",
                "-device", "virtio-net-pci,netdev=net0")) {
            j.expect(org.jvisor.guest.InitScript.READY_LINE);
            j.send("ip addr add " + guestIp + "/24 dev eth0; ip link set eth0 up; ping -c 1 -W 10 " + hostIp
                + " >/dev/null && echo pi''ng-ok\n");
            j.expect("ping-ok");
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
            assertFalse(j.stderr().contains("internal error"), j.transcript());
        }
    }
}
