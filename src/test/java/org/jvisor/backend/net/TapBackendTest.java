package org.jvisor.backend.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The TAP backend on a real tap: created and removed with the backend, a frame written comes out
 * of the kernel's interface counters, a frame the kernel sends (an IPv6 router solicitation or an
 * ARP to the tap's subnet) wakes the poller, bad names and busy taps are refused with clear errors.
 * Needs CAP_NET_ADMIN (root); skipped with the reason otherwise.
 */
class TapBackendTest {
    private final List<String> log = new ArrayList<>();

    private static String name(String suffix) {
        return "jvt" + (ProcessHandle.current().pid() % 10000) + suffix;
    }

    private TapBackend openOrSkip(String ifname) throws IOException {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/net/tun")), "skipped: no /dev/net/tun on this host");
        try {
            return TapBackend.open("t", ifname, 12, log::add);
        } catch (IOException e) {
            Assumptions.assumeFalse(e.getMessage().contains("no permission"), "skipped: " + e.getMessage());
            throw e;
        }
    }

    private static String ip(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            Assumptions.abort("skipped: ip(8) is not installed (iproute2): " + e.getMessage());
            throw e;
        }
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return out;
    }

    @Test
    void createsSendsReceivesAndRemovesATap() throws Exception {
        String n = name("a");
        CountDownLatch frame = new CountDownLatch(1);
        try (TapBackend tap = openOrSkip(n)) {
            assertEquals(n, tap.ifname());
            assertTrue(ip("link", "show", n).contains(n), "the tap exists");
            tap.setOffloads(new Offloads(true, true, true, true));
            ip("addr", "add", "10.233.7.1/24", "dev", n);
            ip("link", "set", n, "up");
            // A broadcast ARP request from 10.233.7.2 for 10.233.7.1, behind a zero virtio-net header.
            byte[] f = new byte[12 + 42];
            int o = 12;
            for (int i = 0; i < 6; i++) {
                f[o + i] = (byte) 0xff;
            }
            byte[] src = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
            System.arraycopy(src, 0, f, o + 6, 6);
            f[o + 12] = 0x08;
            f[o + 13] = 0x06;
            byte[] arp = {0, 1, 8, 0, 6, 4, 0, 1};
            System.arraycopy(arp, 0, f, o + 14, 8);
            System.arraycopy(src, 0, f, o + 22, 6);
            byte[] spa = {10, (byte) 233, 7, 2};
            System.arraycopy(spa, 0, f, o + 28, 4);
            byte[] tpa = {10, (byte) 233, 7, 1};
            System.arraycopy(tpa, 0, f, o + 38, 4);
            byte[] buf = new byte[70000];
            tap.setReceiveListener(frame::countDown);
            tap.armReceive();
            tap.send(f, f.length);
            // The kernel answers the ARP request: the reply wakes the poller and can be read.
            assertTrue(frame.await(10, TimeUnit.SECONDS), "a frame from the kernel woke the poller");
            int len;
            boolean reply = false;
            while ((len = tap.receive(buf)) > 0) {
                assertTrue(len >= 12 + 14, "vnet header and Ethernet header: " + len);
                if (buf[12 + 12] == 0x08 && buf[12 + 13] == 0x06 && buf[12 + 21] == 2) {
                    reply = true;
                }
            }
            assertTrue(reply, "the kernel's ARP reply to our request");
            assertEquals(0, tap.receive(buf), "non-blocking: empty returns 0");
            var e = assertThrows(IOException.class, () -> TapBackend.open("t2", n, 12, log::add));
            assertTrue(e.getMessage().contains("-netdev tap,id=t2") && e.getMessage().contains("busy"), e.getMessage());
        }
        assertTrue(!ip("link", "show", n).contains(n + ":"), "the tap jvisor created is gone");
    }

    @Test
    void attachesToAnExistingTapAndLeavesIt() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/net/tun")), "skipped: no /dev/net/tun on this host");
        String n = name("b");
        String out = ip("tuntap", "add", n, "mode", "tap");
        Assumptions.assumeTrue(out.isBlank(), "skipped: cannot create a tap: " + out);
        try {
            try (TapBackend tap = TapBackend.open("t", n, 12, log::add)) {
                assertEquals(n, tap.ifname());
            }
            assertTrue(ip("link", "show", n).contains(n), "a tap made beforehand stays");
        } finally {
            ip("link", "del", n);
        }
    }

    @Test
    void refusesBadNamesAndNonTaps() throws Exception {
        var e = assertThrows(IOException.class, () -> TapBackend.open("n0", "a/b", 12, log::add));
        assertTrue(e.getMessage().contains("-netdev tap,id=n0: ifname=a/b is not a valid interface name"), e.getMessage());
        e = assertThrows(IOException.class, () -> TapBackend.open("n0", "a-name-much-too-long", 12, log::add));
        assertTrue(e.getMessage().contains("longer than 15"), e.getMessage());
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/net/tun")), "skipped: no /dev/net/tun on this host");
        e = assertThrows(IOException.class, () -> TapBackend.open("n0", "lo", 12, log::add));
        Assumptions.assumeFalse(e.getMessage().contains("no permission"), "skipped: " + e.getMessage());
        assertTrue(e.getMessage().contains("exists but is not a tap"), e.getMessage());
    }

    /**
     * The tap goes away under the backend (ip link del, as an operator or a crashed network
     * manager does): a frame from the guest is an IOException naming the tap or is dropped, a
     * read is an IOException, and the armed poller wakes the device once (it then stops
     * receiving) instead of spinning on the dead descriptor.
     */
    @Test
    void aTapDeletedUnderTheBackendGivesErrorsNotASpin() throws Exception {
        String n = name("c");
        java.util.concurrent.atomic.AtomicInteger wakeups = new java.util.concurrent.atomic.AtomicInteger();
        try (TapBackend tap = openOrSkip(n)) {
            ip("link", "set", n, "up");
            assertEquals("", ip("link", "del", n).trim());
            assertTrue(!ip("link", "show", n).contains(n + ":"), "the tap is gone");
            byte[] f = new byte[12 + 60];
            f[12] = (byte) 0xff;
            try {
                tap.send(f, f.length);
            } catch (IOException e) {
                assertTrue(e.getMessage().contains(n), e.getMessage());
            }
            byte[] buf = new byte[70000];
            IOException read = assertThrows(IOException.class, () -> tap.receive(buf));
            assertTrue(read.getMessage().contains(n) && read.getMessage().contains("read"), read.getMessage());
            tap.setReceiveListener(wakeups::incrementAndGet);
            tap.armReceive();
            for (int i = 0; i < 100 && wakeups.get() == 0; i++) {
                Thread.sleep(10);
            }
            Thread.sleep(200);
            assertTrue(wakeups.get() <= 1, "woken " + wakeups.get() + " times: the device stops after one failed read");
        }
    }

    /** /dev/net/tun attached to {@code name} with {@code flags}, as libvirt opens a tap for QEMU. */
    private static org.jvisor.sys.Fd attach(String name, int flags) throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/net/tun")), "skipped: no /dev/net/tun on this host");
        org.jvisor.sys.Fd fd = org.jvisor.sys.Fd.open(Tun.DEVICE, org.jvisor.sys.Fd.O_RDWR | org.jvisor.sys.Fd.O_CLOEXEC);
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment ifr = a.allocate(Tun.IFREQ_SIZE, 8);
            ifr.setString(0, name);
            ifr.set(java.lang.foreign.ValueLayout.JAVA_SHORT, Tun.IFNAMSIZ, (short) flags);
            fd.ioctl("TUNSETIFF", Tun.TUNSETIFF, ifr);
        } catch (org.jvisor.sys.SysException e) {
            fd.close();
            Assumptions.assumeFalse(e.is(org.jvisor.sys.Errno.EPERM), "skipped: " + e.getMessage());
            throw e;
        }
        return fd;
    }

    /**
     * -netdev tap,fd=N: the backend takes over a descriptor another process attached (libvirt's
     * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, blocking), makes it non-blocking, carries frames, and
     * closes it with itself (the tap, not persistent, goes with it).
     */
    @Test
    void adoptsATapAnotherProcessAttached() throws Exception {
        String n = name("f");
        org.jvisor.sys.Fd fd = attach(n, Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR);
        try (TapBackend tap = TapBackend.adopt("hostnet0", fd, 12, log::add)) {
            assertEquals(n, tap.ifname());
            assertEquals("-netdev tap,id=hostnet0 (" + n + ")", tap.describe());
            assertEquals(0, tap.receive(new byte[2048]), "non-blocking now: nothing waiting returns 0");
            byte[] f = new byte[12 + 60];
            java.util.Arrays.fill(f, 12, 18, (byte) 0xff);
            tap.send(f, f.length);      // the tap is down: dropped, and said once
        }
        assertTrue(!ip("link", "show", n).contains(n + ":"), "closed with the backend: the tap is gone");
    }

    /** A descriptor that is no tap of the right kind is refused in QEMU's words (TUNGETIFF) or jvisor's, and closed. */
    @Test
    void refusesDescriptorsThatAreNotATapAndClosesThem() throws Exception {
        try (org.jvisor.sys.Sockets.Pair pair = org.jvisor.sys.Sockets.socketPair(org.jvisor.sys.Sockets.SOCK_STREAM)) {
            int number = pair.first().fd();
            var e = assertThrows(IOException.class, () -> TapBackend.adopt("n0", pair.first(), 12, log::add));
            assertEquals("-netdev tap,id=n0,fd=" + number + ": Unable to query TUNGETIFF on FD " + number
                + ": Inappropriate ioctl for device (the descriptor must be /dev/net/tun attached to a tap, as libvirt passes it)",
                e.getMessage());
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                assertEquals(0, pair.second().read(a.allocate(1)), "the refused descriptor was closed");
            }
        }
        String n = name("g");
        var e = assertThrows(IOException.class, () -> TapBackend.adopt("n0", attach(n, Tun.IFF_TAP | Tun.IFF_NO_PI), 12, log::add));
        assertTrue(e.getMessage().contains("tap " + n + " was attached without IFF_VNET_HDR"), e.getMessage());
        e = assertThrows(IOException.class, () -> TapBackend.adopt("n0", attach(n, Tun.IFF_TUN | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR),
            12, log::add));
        assertTrue(e.getMessage().contains(n + " is a tun (IP) device, not a tap"), e.getMessage());
        assertTrue(!ip("link", "show", n).contains(n + ":"), "each refused descriptor was closed: no tap or tun left");
        org.jvisor.sys.Fd unattached = org.jvisor.sys.Fd.open(Tun.DEVICE, org.jvisor.sys.Fd.O_RDWR | org.jvisor.sys.Fd.O_CLOEXEC);
        e = assertThrows(IOException.class, () -> TapBackend.adopt("n0", unattached, 12, log::add));
        assertTrue(e.getMessage().contains("Unable to query TUNGETIFF on FD " + unattached.fd() + ": File descriptor in bad state"),
            e.getMessage());
    }
}
