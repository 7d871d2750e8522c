package org.jvisor.machine;

import org.jvisor.testing.DemoGuest;

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

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.JvisorSession;

/**
 * virtio-serial with the Debian kernel's virtio_console driver on tcg: hvc0 and a named port on
 * file chardevs (on PCI and on microvm's virtio-mmio), an interactive shell on hvc0 through a Unix
 * socket chardev (with a reconnect), flow control of a MiB of input, and hvc0 on stdio with the
 * Ctrl-A escapes.
 */
@GuestTest
class VirtioConsoleGuestTest {
    private static final long WATCHDOG_MILLIS = 15 * 60 * 1000;
    private static GuestBuilder.Guest guest;

    @BeforeAll
    static void buildGuest() throws IOException {
        guest = DemoGuest.build();
    }

    private static String[] boot(String append, String... extra) {
        List<String> args = new ArrayList<>(List.of("-accel", "tcg", "-m", "512M", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(), "-append", append));
        args.addAll(List.of(extra));
        return args.toArray(new String[0]);
    }

    @Test
    void guestWritesReachFileChardevsAndTheNamedPortAppears(@TempDir Path dir) throws Exception {
        Path console = dir.resolve("hvc0.txt");
        Path port = dir.resolve("port.txt");
        String cmd = "cat /sys/class/virtio-ports/vport0p1/name; "
            + "echo hello-from-hvc0 > /dev/hvc0; echo data-on-the-port > /dev/vport0p1";
        var r = JvisorProcess.run(boot(DemoGuest.CONSOLE + " " + InitScript.cmdParameterBase64(cmd), "-nographic",
            "-chardev", "file,id=c0,path=" + console, "-chardev", "file,id=c1,path=" + port,
            "-device", "virtio-serial-pci", "-device", "virtconsole,chardev=c0",
            "-device", "virtserialport,chardev=c1,name=org.jvisor.test"));
        assertTrue(r.stdout().lines().anyMatch("org.jvisor.test"::equals), "the port's name in sysfs: " + r);
        assertTrue(r.stdout().contains("jvisor-guest: command exited with status 0"), r.toString());
        assertEquals(0, r.status(), r.toString());
        assertEquals("hello-from-hvc0\r\n", Files.readString(console), "hvc0 is a tty: ONLCR adds the CR");
        assertEquals("data-on-the-port\n", Files.readString(port), "a virtserialport passes bytes as they are");
    }

    /** The same device model on a virtio-mmio transport: -M microvm with virtio-serial-device. */
    @Test
    void onMicrovmVirtioSerialDeviceGivesHvc0(@TempDir Path dir) throws Exception {
        Path console = dir.resolve("hvc0.txt");
        String cmd = "cat /sys/class/virtio-ports/vport0p1/name; echo hello-from-microvm > /dev/hvc0";
        var r = JvisorProcess.run(boot(DemoGuest.CONSOLE + " " + InitScript.cmdParameterBase64(cmd), "-M", "microvm", "-nographic",
            "-chardev", "file,id=c0,path=" + console, "-chardev", "null,id=c1",
            "-device", "virtio-serial-device", "-device", "virtconsole,chardev=c0",
            "-device", "virtserialport,chardev=c1,name=org.jvisor.mmio"));
        assertTrue(r.stdout().lines().anyMatch("org.jvisor.mmio"::equals), r.toString());
        assertTrue(r.stdout().contains("jvisor-guest: command exited with status 0"), r.toString());
        assertEquals(0, r.status(), r.toString());
        assertEquals("hello-from-microvm\r\n", Files.readString(console));
    }

    @Test
    void aShellOnHvc0AnswersThroughASocketAndAfterAReconnect(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("console.sock");
        // console=hvc0 last: /dev/console, and so /init's interactive shell, is hvc0.
        try (JvisorSession s = JvisorSession.start(boot(DemoGuest.CONSOLE + " console=hvc0", "-nographic",
                "-chardev", "socket,id=c0,path=" + sock + ",server=on,wait=off",
                "-device", "virtio-serial-pci", "-device", "virtconsole,chardev=c0"))) {
            try (SocketClient c = SocketClient.connect(sock, s)) {
                c.expect("jvisor:/# ");
                c.send("echo $((6 * 7))-answer; tty\n");
                c.expect("42-answer");
                c.expect("/dev/hvc0");
                c.expect("jvisor:/# ");
            }
            try (SocketClient c = SocketClient.connect(sock, s)) {
                c.send("echo again-$((1 + 1))\n");
                c.expect("again-2");
                c.send("poweroff -f\n");
            }
            assertEquals(0, s.waitFor(), s.transcript());
            assertTrue(s.stdout().contains("printk: console [hvc0] enabled"), s.transcript());
        }
    }

    @Test
    void hvc0OnStdioKeepsTheEscapes() throws Exception {
        try (JvisorSession s = JvisorSession.start(boot(DemoGuest.CONSOLE + " console=hvc0", "-serial", "none",
                "-chardev", "stdio,id=c0", "-device", "virtio-serial-pci", "-device", "virtconsole,chardev=c0"))) {
            s.expect("jvisor:/# ");
            s.send("echo $((6 * 7))-answer; tty\n");
            s.expect("42-answer");
            s.expect("/dev/hvc0");
            s.send("\u0001x");
            assertEquals(0, s.waitFor(), "C-a x ends jvisor with status 0: " + s.transcript());
        }
    }

    /**
     * Flow control end to end, both ways. In: a MiB sent before the guest has the port open waits
     * in the socket and the VMM (the chardev is not read while the guest has no buffers) and
     * arrives whole. Out: a client of a second port connects and reads nothing while the guest
     * copies a MiB from tmpfs to it in 1 KiB writes. Linux's write returns once its buffer is in
     * the transmit queue, so what can be out of the writer's hands is the queue (128 buffers of
     * 1 KiB), the chardev's buffer (64 KiB) and the socket's (~176 KiB here): under 400 KiB.
     * The writer must still wait after 25 answers of the monitor to query-status (seconds, against
     * the fraction of one the copy takes when nothing holds it), and once the client reads it
     * receives every byte, in order (the guest's MD5 of the file).
     */
    @Test
    void aMebibyteSentBeforeTheGuestOpensThePortArrivesWholeAndAStalledReaderLosesNothing(@TempDir Path dir)
            throws Exception {
        Path sock = dir.resolve("port.sock");
        Path outSock = dir.resolve("out.sock");
        Path qmp = dir.resolve("qmp.sock");
        byte[] data = new byte[1 << 20];
        new java.util.Random(7).nextBytes(data);
        String md5 = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("MD5").digest(data));
        int outBytes = 1 << 20;
        String cmd = "cat /sys/class/virtio-ports/vport0p1/name; head -c " + data.length + " /dev/vport0p1 | md5sum; "
            + "head -c " + outBytes + " /dev/urandom > /tmp/out; md5sum /tmp/out; "
            + "dd if=/tmp/out of=/dev/vport0p2 bs=1024 2>/dev/null; "
            + "echo copy-done-$((40 + 2))";  // the marker is not in the command's own echo
        try (JvisorSession s = JvisorSession.start(boot(DemoGuest.CONSOLE + " " + InitScript.cmdParameterBase64(cmd), "-nographic",
                "-chardev", "socket,id=p,path=" + sock + ",server=on,wait=off",
                "-chardev", "socket,id=o,path=" + outSock + ",server=on,wait=off",
                "-qmp", "unix:" + qmp + ",server=on,wait=off",
                "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=p,name=org.jvisor.bulk",
                "-device", "virtserialport,chardev=o,name=org.jvisor.out"));
             org.jvisor.testing.MonitorPoller monitor = org.jvisor.testing.MonitorPoller.start(qmp, s.pid(), 512L << 20)) {
            try (SocketClient c = SocketClient.connect(sock, s);
                 SocketChannel stalled = SocketClient.open(outSock, s)) {
                Thread writer = Thread.ofPlatform().daemon().start(() -> {
                    try {
                        c.send(data);
                    } catch (IOException e) {
                        // the test fails on the missing checksum
                    }
                });
                s.expect("org.jvisor.bulk");
                s.expect(md5 + "  -");
                writer.join();

                String sumLine = s.expect("  /tmp/out");
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9a-f]{32})  /tmp/out").matcher(sumLine);
                assertTrue(m.find(), sumLine);
                String outMd5 = m.group(1);
                for (int i = 0; i < 25; i++) {
                    assertTrue(!s.stdout().contains("copy-done-42"), "the guest's write waits for the reader: " + s.transcript());
                    String status = monitor.awaitAnswer();
                    assertTrue(status.contains("\"running\""), status);
                }
                assertTrue(!s.stdout().contains("copy-done-42"), "the guest's write waits for the reader: " + s.transcript());

                java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
                ByteBuffer buf = ByteBuffer.allocate(1 << 16);
                while (got.size() < outBytes && stalled.read(buf.clear()) > 0) {
                    got.write(buf.array(), 0, buf.position());
                }
                s.expect("copy-done-42");
                assertEquals(outBytes, got.size(), "every byte the guest wrote arrives");
                assertEquals(outMd5, java.util.HexFormat.of().formatHex(
                    java.security.MessageDigest.getInstance("MD5").digest(got.toByteArray())), "in order");
            }
            s.expect("jvisor-guest: command exited with status 0");
            assertEquals(0, s.waitFor(), s.transcript());
            assertTrue(!s.transcript().contains("needs reset"), s.transcript());
            assertTrue(!s.stderr().contains("dropped"), s.transcript());
        }
    }

    /** A client of the socket chardev: reads what the guest writes, types what the test sends. */
    private static final class SocketClient implements AutoCloseable {
        private final SocketChannel channel;
        private final StringBuffer received = new StringBuffer();
        private final JvisorSession session;
        private int searchFrom;

        private SocketClient(SocketChannel channel, JvisorSession session) {
            this.channel = channel;
            this.session = session;
            Thread.ofPlatform().daemon().start(() -> {
                ByteBuffer buf = ByteBuffer.allocate(4096);
                try {
                    while (channel.read(buf.clear()) > 0) {
                        received.append(new String(buf.array(), 0, buf.position(), StandardCharsets.ISO_8859_1));
                    }
                } catch (IOException e) {
                    // closed
                }
            });
        }

        /** Connects once jvisor listens on {@code path}. */
        static SocketClient connect(Path path, JvisorSession session) throws Exception {
            return new SocketClient(open(path, session), session);
        }

        /** A bare connection, read only when the test reads it, once jvisor listens on {@code path}. */
        static SocketChannel open(Path path, JvisorSession session) throws Exception {
            long deadline = System.currentTimeMillis() + WATCHDOG_MILLIS;
            while (true) {
                try {
                    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    try {
                        ch.connect(UnixDomainSocketAddress.of(path));
                        return ch;
                    } catch (IOException e) {
                        ch.close();
                        throw e;
                    }
                } catch (IOException e) {
                    if (System.currentTimeMillis() > deadline) {
                        throw new AssertionError("watchdog: could not connect to " + path + "\n" + session.transcript(), e);
                    }
                    Thread.sleep(100);
                }
            }
        }

        void send(String text) throws IOException {
            send(text.getBytes(StandardCharsets.ISO_8859_1));
        }

        void send(byte[] bytes) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                channel.write(b);
            }
        }

        void expect(String text) throws InterruptedException {
            long deadline = System.currentTimeMillis() + WATCHDOG_MILLIS;
            while (true) {
                int at = received.indexOf(text, searchFrom);
                if (at >= 0) {
                    searchFrom = at + text.length();
                    return;
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new AssertionError("watchdog: no '" + text + "' on the socket\n--- socket ---\n" + received
                        + "\n" + session.transcript());
                }
                Thread.sleep(20);
            }
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }
}
