package org.jvisor.qmp;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.JvisorSession;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * jvisor -control: one process serving many machines over its control socket. Machines are
 * created from command lines, listed with what they cost, destroyed by name; one that crashes or
 * is destroyed leaves the others running.
 */
@GuestTest
class ServerModeTest {

    private static JsonObject ok(JsonObject reply) {
        assertTrue(reply.members().containsKey("return"), "not a success: " + QmpClient.text(reply));
        return reply;
    }

    private static String errorDesc(JsonObject reply) {
        JsonValue e = reply.members().get("error");
        assertTrue(e instanceof JsonObject, "not an error: " + QmpClient.text(reply));
        return ((JsonValue.JsonString) ((JsonObject) e).members().get("desc")).value();
    }

    private static String create(String name, String... args) {
        List<String> quoted = new ArrayList<>();
        for (String a : args) {
            quoted.add(QmpClient.text(new JsonValue.JsonString(a)));
        }
        return "{\"execute\":\"vm-create\",\"arguments\":{\"name\":\"" + name + "\",\"args\":[" + String.join(",", quoted) + "]}}";
    }

    private static List<JsonObject> list(QmpClient c) throws Exception {
        JsonArray a = (JsonArray) ok(c.execute("{\"execute\":\"vm-list\"}")).members().get("return");
        return a.elements().stream().map(v -> (JsonObject) v).toList();
    }

    private static String str(JsonObject o, String key) {
        return ((JsonValue.JsonString) o.members().get(key)).value();
    }

    private static long num(JsonObject o, String key) {
        return ((JsonValue.JsonInt) o.members().get(key)).value();
    }

    @Test
    void createListCrashAndDestroyMachines(@TempDir Path dir) throws Exception {
        Path control = dir.resolve("control.sock");
        try (JvisorSession server = JvisorSession.start("-control", "unix:" + control + ",server=on,wait=off");
             QmpClient c = QmpClient.connect(control)) {
            assertTrue(c.reply().members().containsKey("QMP"));
            ok(c.execute("{\"execute\":\"qmp_capabilities\"}"));
            Path spinQmp = dir.resolve("spin-qmp.sock");
            JsonObject spin = (JsonObject) ok(c.execute(create("spin", "-accel", "tcg", "-display", "none", "-serial", "none",
                "-m", "64M", "-kernel", JvisorProcess.guest("spin.elf").toString(),
                "-qmp", "unix:" + spinQmp + ",server=on,wait=off"))).members().get("return");
            assertEquals("spin", str(spin, "name"));
            assertEquals("tcg", str(spin, "accelerator"));

            // a guest that triple-faults with -no-reboot ends; the server and the other machine go on
            ok(c.execute(create("crash", "-accel", "tcg", "-display", "none", "-serial", "none", "-m", "64M",
                "-no-reboot", "-kernel", JvisorProcess.guest("triplefault.elf").toString())));
            JsonObject ended = (JsonObject) c.event("VM_ENDED").members().get("data");
            assertEquals("crash", str(ended, "name"));
            assertEquals("guest-reset", str(ended, "reason"));

            // the spinning machine has its own monitor, and runs
            try (QmpClient m = QmpClient.connect(spinQmp)) {
                m.reply();
                ok(m.execute("{\"execute\":\"qmp_capabilities\"}"));
                JsonObject st = (JsonObject) ok(m.execute("{\"execute\":\"query-status\"}")).members().get("return");
                assertEquals("running", str(st, "status"));
            }
            List<JsonObject> vms = list(c);
            assertEquals(1, vms.size(), vms.toString());
            assertEquals("spin", str(vms.getFirst(), "name"));
            assertTrue(num(vms.getFirst(), "vcpu-time-ns") > 0, vms.toString());
            assertEquals(64L << 20, num(vms.getFirst(), "ram-bytes"));

            // requests the server refuses, each with a reason
            assertTrue(errorDesc(c.execute(create("spin", "-kernel", JvisorProcess.guest("spin.elf").toString())))
                .contains("exists"));
            assertTrue(errorDesc(c.execute(create("bad name", "-kernel", "x"))).contains("Invalid VM name"));
            assertTrue(errorDesc(c.execute(create("tty", "-nographic", "-kernel", JvisorProcess.guest("spin.elf").toString())))
                .contains("no terminal"));
            assertTrue(errorDesc(c.execute(create("pid", "-display", "none", "-serial", "none", "-pidfile", "/tmp/x",
                "-kernel", JvisorProcess.guest("spin.elf").toString()))).contains("-pidfile"));
            String missing = errorDesc(c.execute(create("nokernel", "-display", "none", "-serial", "none",
                "-kernel", dir.resolve("missing").toString())));
            assertTrue(missing.contains("missing"), missing);
            assertEquals(1, list(c).size());
            JsonObject notFound = c.execute("{\"execute\":\"vm-destroy\",\"arguments\":{\"name\":\"nope\"}}");
            assertEquals("DeviceNotFound", str((JsonObject) notFound.members().get("error"), "class"));

            JsonObject destroyed = (JsonObject) ok(c.execute("{\"execute\":\"vm-destroy\",\"arguments\":{\"name\":\"spin\"}}"))
                .members().get("return");
            assertEquals("host-qmp-quit", str(destroyed, "reason"));
            assertEquals(0, list(c).size());
            ok(c.execute("{\"execute\":\"quit\"}"));
            assertEquals(0, server.waitFor(120), server.transcript());
            assertTrue(server.stderr().contains("[spin] jvisor: ended: host-qmp-quit"), server.transcript());
        }
    }

    /** A console on a Unix socket, read until a text appears. */
    private static final class Console implements AutoCloseable {
        private final SocketChannel channel;
        private final StringBuilder text = new StringBuilder();

        Console(Path socket) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            SocketChannel ch = null;
            while (ch == null) {
                try {
                    ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    ch.connect(UnixDomainSocketAddress.of(socket));
                } catch (IOException e) {
                    ch = null;
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(50);
                }
            }
            channel = ch;
        }

        void expect(String s) throws IOException {
            ByteBuffer buf = ByteBuffer.allocate(4096);
            while (text.indexOf(s) < 0) {
                if (channel.read(buf.clear()) < 0) {
                    throw new AssertionError("console closed before '" + s + "':\n" + text);
                }
                text.append(new String(buf.array(), 0, buf.position(), StandardCharsets.ISO_8859_1));
            }
            text.delete(0, text.indexOf(s) + s.length());
        }

        void send(String s) throws IOException {
            channel.write(ByteBuffer.wrap(s.getBytes(StandardCharsets.ISO_8859_1)));
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    @Test
    void twoDemoGuestsInOneProcessAndOneOutlivesTheOther(@TempDir Path dir) throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        Path control = dir.resolve("control.sock");
        try (JvisorSession server = JvisorSession.start("-control", "unix:" + control + ",server=on,wait=off");
             QmpClient c = QmpClient.connect(control)) {
            c.reply();
            ok(c.execute("{\"execute\":\"qmp_capabilities\"}"));
            List<Console> consoles = new ArrayList<>();
            for (String name : List.of("a", "b")) {
                Path console = dir.resolve(name + ".console");
                ok(c.execute(create(name, "-accel", "tcg", "-m", "256M", "-display", "none",
                    "-chardev", "socket,id=con,path=" + console + ",server=on,wait=off", "-serial", "chardev:con",
                    "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(), "-append", DemoGuest.CONSOLE)));
                consoles.add(new Console(console));
            }
            try (Console a = consoles.get(0); Console b = consoles.get(1)) {
                a.expect(InitScript.READY_LINE);
                b.expect(InitScript.READY_LINE);
                ok(c.execute("{\"execute\":\"vm-destroy\",\"arguments\":{\"name\":\"a\"}}"));
                b.send("echo b-$((6*7))-alive\n");
                b.expect("b-42-alive");
                List<JsonObject> vms = list(c);
                assertEquals(1, vms.size());
                assertEquals("b", str(vms.getFirst(), "name"));
            }
            ok(c.execute("{\"execute\":\"quit\"}"));
            assertEquals(0, server.waitFor(120), server.transcript());
        }
    }
}
