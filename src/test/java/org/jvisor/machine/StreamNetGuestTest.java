package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.RequiredTools;

/**
 * Two guests joined by -netdev stream over a unix socket, no TAP: one listens (server=on), the
 * other connects; the second pings the first and sends it a line over TCP. Both jvisor, and
 * jvisor against QEMU 7.2 either way round (skipped where qemu-system-x86_64 is not installed).
 * A jvisor server first meets a peer that announces a bogus frame length: it is disconnected,
 * and the guest and the next peer go on.
 */
@GuestTest
class StreamNetGuestTest {
    private static GuestBuilder.Guest guest;

    @BeforeAll
    static void buildGuest() throws IOException {
        guest = DemoGuest.build();
    }

    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");

    private static JvisorProcess.Result boot(boolean qemu, String netdev, String cmd) throws Exception {
        List<String> args = List.of("-accel", "tcg", "-m", "512M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(),
            "-append", DemoGuest.CONSOLE + " quiet " + InitScript.cmdParameterBase64(cmd),
            "-netdev", netdev, "-device", "virtio-net-pci,netdev=n");
        if (!qemu) {
            return JvisorProcess.run(args.toArray(new String[0]));
        }
        List<String> cmdLine = new ArrayList<>(List.of(QEMU.toString()));
        cmdLine.addAll(args);
        Process p = new ProcessBuilder(cmdLine).redirectErrorStream(true).start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
        if (!p.waitFor(10, TimeUnit.MINUTES)) {     // hang guard only
            p.destroyForcibly();
        }
        return new JvisorProcess.Result(p.waitFor(), out.get(), "");
    }

    @ParameterizedTest(name = "server {0}, client {1}")
    @CsvSource({"jvisor, jvisor", "jvisor, qemu", "qemu, jvisor"})
    void aClientGuestPingsAndTalksToAServerGuest(String serverVmm, String clientVmm) throws Exception {
        boolean qemuServer = serverVmm.equals("qemu");
        boolean qemuClient = clientVmm.equals("qemu");
        RequiredTools.assume(!(qemuServer || qemuClient) || Files.isExecutable(QEMU),
            "skipped: qemu-system-x86_64 is not installed (Debian qemu-system-x86): no QEMU peer");
        Path dir = Files.createTempDirectory("jvisor-stream-guests");
        Path sock = dir.resolve("link.sock");
        try {
            CompletableFuture<JvisorProcess.Result> server = CompletableFuture.supplyAsync(() -> {
                try {
                    return boot(qemuServer, "stream,id=n,server=on,addr.type=unix,addr.path=" + sock, String.join("; ",
                        "ip addr add 10.0.3.1/24 dev eth0", "ip link set eth0 up",
                        "timeout 300 nc -l -p 5000 > /tmp/got", "echo got=$(cat /tmp/got)"));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            while (!Files.exists(sock) && !server.isDone()) {
                Thread.sleep(20);
            }
            if (!qemuServer) {
                // Bad input first: a peer announcing a 4 GiB frame is sent away; the VM goes on and serves the next.
                try (SocketChannel bogus = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                    bogus.connect(UnixDomainSocketAddress.of(sock));
                    bogus.write(ByteBuffer.allocate(8).putInt(-1).putInt(0).flip());
                    assertEquals(-1, bogus.read(ByteBuffer.allocate(1)), "the bogus peer is disconnected");
                }
            }
            var client = boot(qemuClient, "stream,id=n,server=off,addr.type=unix,addr.path=" + sock, String.join("; ",
                "ip addr add 10.0.3.2/24 dev eth0", "ip link set eth0 up",
                "for i in $(seq 60); do ping -c 1 -W 2 10.0.3.1 > /dev/null && break; done",
                "ping -c 3 -W 10 10.0.3.1", "sleep 2",
                "echo payload-from-the-client | nc -w 5 10.0.3.1 5000; echo nc-status=$?"));
            var s = server.get(10, TimeUnit.MINUTES);
            assertEquals(0, client.status(), client.toString());
            assertTrue(client.stdout().contains("3 packets transmitted, 3 packets received"), client.toString());
            assertEquals(0, s.status(), s.toString());
            assertTrue(s.stdout().contains("got=payload-from-the-client"), s + "\n=== client ===\n" + client);
            if (!qemuServer) {
                assertTrue(s.stderr().contains("-netdev stream,id=n: the peer announced a frame of 4294967295 bytes"), s.toString());
            }
        } finally {
            Files.deleteIfExists(sock);
            Files.delete(dir);
        }
    }
}
