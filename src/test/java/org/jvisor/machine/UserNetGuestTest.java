package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.RequiredTools;

/**
 * -netdev user through a real passt, no TAP device: the demo guest gets a DHCP lease (and passt's
 * 65520-byte MTU, so 64 KiB frames cross the stream), fetches 300 KiB from an HTTP server the test
 * runs on the host's loopback through the gateway address, and a host client fetches a page from
 * the guest's httpd through hostfwd; the NIC offers no offloads; passt is gone afterwards.
 * Skipped (with the reason) where passt is not installed.
 */
@GuestTest
class UserNetGuestTest {
    private static GuestBuilder.Guest guest;

    @BeforeAll
    static void buildGuest() throws IOException {
        guest = DemoGuest.build();
    }

    /** A udhcpc script (busybox ships none): configure address, route and MTU from the lease. */
    static final String DHCP_SCRIPT = "printf '#!/bin/sh\\ncase \"$1\" in bound|renew) ip addr add $ip/$mask dev $interface;"
        + " ip link set dev $interface mtu $mtu; ip route add default via $router;"
        + " echo \"lease ip=$ip router=$router mtu=$mtu\";; esac\\n' > /tmp/dhcp.sh; chmod +x /tmp/dhcp.sh";

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static String get(int port) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            OutputStream out = s.getOutputStream();
            out.write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    private static long passtProcesses() {
        return ProcessHandle.allProcesses().filter(p -> p.info().arguments()
            .map(a -> List.of(a).stream().anyMatch(x -> x.contains("jvisor-passt-"))).orElse(false)).count();
    }

    @Test
    void leaseHostServerThroughTheGatewayAndGuestServerThroughHostfwd() throws Exception {
        RequiredTools.assume(java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/bin/passt")),
            "skipped: passt is not installed (apt-get install passt)");
        byte[] data = new byte[300 * 1024];
        new Random(7).nextBytes(data);
        String md5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
        int fwdPort = freePort();
        StringBuilder fetched = new StringBuilder();
        ServerSocket http = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
        // GET /data: the bytes; GET /fetch-guest (asked once the guest's httpd runs): the host
        // fetches the guest's page through hostfwd and answers what it got.
        Thread server = Thread.ofPlatform().daemon().start(() -> {
            while (!http.isClosed()) {
                try (Socket c = http.accept()) {
                    var in = new java.io.BufferedReader(new java.io.InputStreamReader(c.getInputStream(), StandardCharsets.US_ASCII));
                    String request = in.readLine();
                    for (String l = in.readLine(); l != null && !l.isEmpty(); l = in.readLine()) {
                        // headers
                    }
                    byte[] body;
                    if (request != null && request.startsWith("GET /data ")) {
                        body = data;
                    } else {
                        String page;
                        try {
                            page = get(fwdPort);
                        } catch (IOException e) {
                            page = "failed: " + e;
                        }
                        fetched.append(page);
                        body = ("host-fetched:" + page.lines().reduce((x, y) -> y).orElse("") + "\n").getBytes(StandardCharsets.US_ASCII);
                    }
                    OutputStream o = c.getOutputStream();
                    o.write(("HTTP/1.0 200 OK\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    o.write(body);
                    o.flush();
                } catch (IOException e) {
                    // closed at the end, or a client that went away
                }
            }
        });
        try {
            int port = http.getLocalPort();
            String cmd = String.join("; ", DHCP_SCRIPT,
                "ip link set eth0 up",
                "udhcpc -i eth0 -f -q -n -t 5 -s /tmp/dhcp.sh; echo udhcpc-status=$?",
                "echo features=$(cat /sys/class/net/eth0/device/features)",
                "R=$(ip route | awk '/default/ {print $3}')",
                "mkdir /www; echo guest-page-42 > /www/index.html; httpd -p 8080 -h /www",
                "wget -q -O /tmp/d http://$R:" + port + "/data; echo wget-status=$?",
                "echo data-md5=$(md5sum < /tmp/d)",
                "wget -q -O - http://$R:" + port + "/fetch-guest");
            var r = JvisorProcess.run("-accel", "tcg", "-m", "512M", "-nographic", "-no-reboot",
                "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
                "-append", DemoGuest.CONSOLE + " quiet " + InitScript.cmdParameterBase64(cmd),
                "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:" + fwdPort + "-:8080",
                "-device", "virtio-net-pci,netdev=net0");
            String out = r.stdout();
            assertEquals(0, r.status(), r.toString());
            assertTrue(out.contains("udhcpc-status=0") && out.contains("lease ip="), "a DHCP lease from passt: " + r);
            assertTrue(out.contains("mtu=65520"), r.toString());
            String features = out.lines().filter(l -> l.startsWith("features=")).findFirst().orElse("features=").substring(9);
            assertTrue(features.length() > 16 && features.charAt(0) == '0' && features.charAt(11) == '0'
                && features.charAt(15) == '1', "no CSUM/HOST_TSO4 over passt, MRG_RXBUF: " + features);
            assertTrue(out.contains("wget-status=0") && out.contains("data-md5=" + md5), "host data intact (" + md5 + "): " + r);
            assertTrue(out.contains("host-fetched:guest-page-42"), "hostfwd reached the guest (" + fetched + "): " + r);
        } finally {
            http.close();
            server.join();
        }
        assertEquals(0, passtProcesses(), "passt ended with the VM");
    }

    @Test
    void hostfwdToAGuestAddressIsRefusedByName() throws Exception {
        var r = JvisorProcess.run("-accel", "tcg", "-nographic", "-kernel", guest.kernel().toString(),
            "-netdev", "user,id=n,hostfwd=tcp::2222-10.0.2.15:22", "-device", "virtio-net-pci,netdev=n");
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.stderr().contains("a guest address cannot be chosen"), r.toString());
    }
}
