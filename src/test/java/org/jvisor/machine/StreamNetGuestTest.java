package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * Two jvisor guests joined by -netdev stream over a unix socket, no TAP: one listens
 * (server=on), the other connects; the second pings the first and sends it a line over TCP.
 */
@GuestTest
class StreamNetGuestTest {
    private static GuestBuilder.Guest guest;

    @BeforeAll
    static void buildGuest() throws IOException {
        guest = DemoGuest.build();
    }

    private static JvisorProcess.Result boot(String netdev, String cmd) throws Exception {
        return JvisorProcess.run("-accel", "tcg", "-m", "512M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", "console=ttyS0 quiet " + InitScript.cmdParameterBase64(cmd),
            "-netdev", netdev, "-device", "virtio-net-pci,netdev=n");
    }

    @Test
    void aClientGuestPingsAndTalksToAServerGuest() throws Exception {
        Path dir = Files.createTempDirectory("jvisor-stream-guests");
        Path sock = dir.resolve("link.sock");
        try {
            CompletableFuture<JvisorProcess.Result> server = CompletableFuture.supplyAsync(() -> {
                try {
                    return boot("stream,id=n,server=on,addr.type=unix,addr.path=" + sock, String.join("; ",
                        "ip addr add 10.0.3.1/24 dev eth0", "ip link set eth0 up",
                        "timeout 300 nc -l -p 5000 > /tmp/got", "echo got=$(cat /tmp/got)"));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            while (!Files.exists(sock) && !server.isDone()) {
                Thread.sleep(20);
            }
            var client = boot("stream,id=n,server=off,addr.type=unix,addr.path=" + sock, String.join("; ",
                "ip addr add 10.0.3.2/24 dev eth0", "ip link set eth0 up",
                "for i in $(seq 60); do ping -c 1 -W 2 10.0.3.1 > /dev/null && break; done",
                "ping -c 3 -W 10 10.0.3.1", "sleep 2",
                "echo payload-from-the-client | nc -w 5 10.0.3.1 5000; echo nc-status=$?"));
            var s = server.get(10, TimeUnit.MINUTES);
            assertEquals(0, client.status(), client.toString());
            assertTrue(client.stdout().contains("3 packets transmitted, 3 packets received"), client.toString());
            assertEquals(0, s.status(), s.toString());
            assertTrue(s.stdout().contains("got=payload-from-the-client"), s + "\n=== client ===\n" + client);
        } finally {
            Files.deleteIfExists(sock);
            Files.delete(dir);
        }
    }
}
