package org.jvisor.qmp;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.JvisorSession;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real jvisor process (-S, spin.elf) driven over two QMP monitors from JDK sockets, as a
 * management tool drives QEMU: negotiation, the lifecycle and its events on every monitor, and
 * clients that misbehave (garbage, an oversized value, a disconnect right after a command, a
 * flood without reading) without stopping the guest or the other monitor.
 */
@GuestTest
class QmpMonitorTest {

    private static String field(JsonObject o, String... path) {
        JsonValue v = o;
        for (String p : path) {
            v = ((JsonObject) v).members().get(p);
        }
        return QmpClient.text(v);
    }

    @Test
    void twoMonitorsDriveTheLifecycleAndSurviveBadClients(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (JvisorSession jvisor = JvisorSession.start("-accel", "tcg", "-display", "none", "-serial", "none",
                "-kernel", JvisorProcess.guest("spin.elf").toString(), "-S", "-name", "guest=qmptest",
                "-qmp", "unix:" + a + ",server=on,wait=off",
                "-chardev", "socket,id=mon1,path=" + b + ",server,nowait", "-mon", "chardev=mon1,mode=control",
                "-chardev", "socket,id=montcp,host=127.0.0.1,port=0,server=on,wait=off", "-mon", "chardev=montcp,mode=control");
             QmpClient qa = QmpClient.connect(a)) {
            JsonObject greeting = qa.reply();
            assertEquals("{\"micro\": 0, \"minor\": 2, \"major\": 7}", field(greeting, "QMP", "version", "qemu"));
            assertTrue(field(greeting, "QMP", "version", "package").startsWith("\"jvisor "), greeting.toString());

            assertEquals("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Expecting capabilities negotiation with 'qmp_capabilities'\"}}",
                QmpClient.text(qa.execute("{\"execute\": \"query-status\"}")));
            assertEquals("{\"return\": {}, \"id\": {\"n\": [1]}}",
                QmpClient.text(qa.execute("{'execute': 'qmp_capabilities', 'id': {'n': [1]}}")));
            assertEquals("{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}}",
                QmpClient.text(qa.execute("{\"execute\": \"query-status\"}")));

            try (QmpClient qb = QmpClient.connect(b)) {
                qb.reply();
                qb.execute("{\"execute\": \"qmp_capabilities\"}");

                // a third monitor on TCP: query-chardev says which port it got
                String chardevs = field(qb.execute("{\"execute\": \"query-chardev\"}"), "return");
                int port = Integer.parseInt(chardevs.replaceAll(".*\"disconnected:tcp:127.0.0.1:(\\d+),server=on\", \"label\": \"montcp\".*", "$1"));
                try (QmpClient qt = QmpClient.connectTcp(port)) {
                    qt.reply();
                    qt.execute("{\"execute\": \"qmp_capabilities\"}");
                    assertEquals("{\"return\": {\"name\": \"qmptest\"}}", QmpClient.text(qt.execute("{\"execute\": \"query-name\"}")));
                }

                // cont: RESUME on both monitors, before the reply on the one that asked (as QEMU)
                assertEquals("{\"return\": {}}", QmpClient.text(qa.execute("{\"execute\": \"cont\"}")));
                qa.event("RESUME");
                qb.event("RESUME");
                assertEquals("\"running\"", field(qb.execute("{\"execute\": \"query-status\"}"), "return", "status"));

                // the vCPU's thread-id is a real thread of the jvisor process
                JsonObject cpus = qa.execute("{\"execute\": \"query-cpus-fast\"}");
                String tid = field(cpus, "return").replaceAll(".*\"thread-id\": (\\d+), \"props\".*", "$1");
                assertTrue(Files.exists(Path.of("/proc/" + jvisor.pid() + "/task/" + tid)), cpus + " pid " + jvisor.pid());

                assertEquals("{\"return\": {}}", QmpClient.text(qb.execute("{\"execute\": \"stop\"}")));
                JsonObject stop = qa.event("STOP");
                assertTrue(field(stop, "timestamp", "seconds").matches("\\d{10}"), stop.toString());
                assertEquals("\"VM status: paused\\r\\n\"", field(qa.execute(
                    "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info status\"}}"), "return"));

                // garbage on one monitor: one error; the other monitor and the VMM carry on
                assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword 'garbage'\"}}",
                    QmpClient.text(qa.execute("garbage\n")));
                assertEquals("{\"return\": {\"name\": \"qmptest\"}, \"id\": 7}",
                    QmpClient.text(qb.execute("{\"execute\": \"query-name\", \"id\": 7}")));

                // an oversized value: an error, then the connection closes; the next client is served
                try {
                    qa.sendRaw("{\"execute\": \"query-name\", \"id\": \"" + "x".repeat(2 << 20) + "\"}");
                } catch (IOException e) {
                    // jvisor closed the connection before reading all of it
                }
                assertTrue(field(qa.reply(), "error", "desc").contains("longer than"));
                qa.awaitClosed();

                // a client that sends cont and leaves at once: cont still happens
                try (QmpClient qc = QmpClient.connect(a)) {
                    qc.reply();
                    qc.sendRaw("{\"execute\": \"qmp_capabilities\"}{\"execute\": \"cont\"}");
                }
                qb.event("RESUME");

                // a client that floods and never reads is dropped; the guest keeps running
                try (QmpClient flood = QmpClient.connect(a)) {
                    byte[] chunk = "{\"execute\": \"query-commands\"}".repeat(1000).getBytes(StandardCharsets.US_ASCII);
                    assertThrows(IOException.class, () -> {
                        for (int i = 0; i < 10_000; i++) {
                            flood.sendRaw(chunk);
                        }
                    });
                }
                jvisor.expectStderr("does not read its replies was disconnected");
                assertEquals("\"running\"", field(qb.execute("{\"execute\": \"query-status\"}"), "return", "status"));

                // quit: SHUTDOWN host-qmp-quit, the reply, and jvisor ends with status 0
                assertEquals("{\"return\": {}}", QmpClient.text(qb.execute("{\"execute\": \"quit\"}")));
                JsonObject shutdown = qb.event("SHUTDOWN");
                assertEquals("{\"guest\": false, \"reason\": \"host-qmp-quit\"}", field(shutdown, "data"));
                qb.awaitClosed();
            }
            assertEquals(0, jvisor.waitFor(), jvisor.transcript());
            assertTrue(!Files.exists(a) && !Files.exists(b), "the sockets are removed at exit");
        }
    }

    /**
     * -daemonize as libvirt uses it: the command returns 0 once the detached jvisor has its
     * monitor and pidfile; the pid is that process, which a QMP quit ends (and its pidfile goes).
     */
    @Test
    void daemonizeReturnsOnceTheMonitorListens(@TempDir Path dir) throws Exception {
        Path socket = dir.resolve("qmp.sock");
        Path pidfile = dir.resolve("jvisor.pid");
        JvisorProcess.Result parent = JvisorProcess.run("-accel", "tcg", "-display", "none",
            "-kernel", JvisorProcess.guest("spin.elf").toString(), "-S",
            "-qmp", "unix:" + socket + ",server=on,wait=off", "-pidfile", pidfile.toString(), "-daemonize");
        assertEquals(0, parent.status(), parent.toString());
        assertTrue(Files.exists(socket), "the monitor listens when the command returns");
        long pid = Long.parseLong(Files.readString(pidfile).strip());
        ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("no process " + pid));
        try (QmpClient q = QmpClient.connect(socket)) {
            q.reply();
            q.execute("{\"execute\": \"qmp_capabilities\"}");
            assertEquals("\"prelaunch\"", field(q.execute("{\"execute\": \"query-status\"}"), "return", "status"));
            q.execute("{\"execute\": \"quit\"}");
            daemon.onExit().get(120, java.util.concurrent.TimeUnit.SECONDS);
            assertTrue(!Files.exists(pidfile), "the pidfile is removed at exit");
        } finally {
            daemon.destroyForcibly();
        }
    }

    /** -daemonize with a machine that cannot be built: the error reaches the caller's stderr, status 1. */
    @Test
    void daemonizeReportsAFailedStart(@TempDir Path dir) throws Exception {
        JvisorProcess.Result r = JvisorProcess.run("-accel", "tcg", "-display", "none", "-kernel", dir.resolve("none").toString(),
            "-qmp", "unix:" + dir.resolve("q.sock") + ",server=on,wait=off", "-daemonize");
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.stderr().contains("none"), r.toString());
    }

    /**
     * -no-reboot -no-shutdown: the guest's triple fault becomes SHUTDOWN (guest, guest-reset)
     * then STOP, and the machine stays; cont is refused as QEMU refuses it; system_reset is one
     * more shutdown request under -no-reboot. (A reset out of the shutdown state into prelaunch,
     * libvirt's fake reboot without -no-reboot, is PowerButtonTest's.)
     */
    @Test
    void noShutdownKeepsTheMachineUntilAReset(@TempDir Path dir) throws Exception {
        Path socket = dir.resolve("qmp.sock");
        try (JvisorSession jvisor = JvisorSession.start("-accel", "tcg", "-nographic", "-no-reboot", "-no-shutdown",
                "-kernel", JvisorProcess.guest("triplefault.elf").toString(), "-S",
                "-qmp", "unix:" + socket + ",server=on,wait=off");
             QmpClient q = QmpClient.connect(socket)) {
            q.reply();
            q.execute("{\"execute\": \"qmp_capabilities\"}");
            q.execute("{\"execute\": \"cont\"}");
            assertEquals("{\"guest\": true, \"reason\": \"guest-reset\"}", field(q.event("SHUTDOWN"), "data"));
            q.event("STOP");
            assertEquals("\"shutdown\"", field(q.execute("{\"execute\": \"query-status\"}"), "return", "status"));
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Resetting the Virtual Machine is required\"}}",
                QmpClient.text(q.execute("{\"execute\": \"cont\"}")));
            assertEquals("\"VM status: paused (shutdown)\\r\\n\"", field(q.execute(
                "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info status\"}}"), "return"));
            // with -no-reboot a reset request is a shutdown request too (QEMU's qemu_system_reset_request)
            q.execute("{\"execute\": \"system_reset\"}");
            assertEquals("{\"guest\": false, \"reason\": \"host-qmp-system-reset\"}", field(q.event("SHUTDOWN"), "data"));
            assertEquals("\"shutdown\"", field(q.execute("{\"execute\": \"query-status\"}"), "return", "status"));
            assertTrue(jvisor.isAlive());
            q.execute("{\"execute\": \"quit\"}");
            assertEquals(0, jvisor.waitFor(), jvisor.transcript());
        }
    }

    /** wait=on (QEMU's default for a server): nothing runs before a client connects; pretty=on and TCP. */
    @Test
    void waitOnHoldsTheStartUntilAClientConnects(@TempDir Path dir) throws Exception {
        Path socket = dir.resolve("qmp.sock");
        try (JvisorSession jvisor = JvisorSession.start("-accel", "tcg", "-display", "none", "-serial", "none",
                "-kernel", JvisorProcess.guest("spin.elf").toString(),
                "-chardev", "socket,id=m,path=" + socket + ",server=on", "-mon", "chardev=m,mode=control,pretty=on")) {
            jvisor.expectStderr("QMP: waiting for a connection on unix:" + socket + ",server=on");
            Thread.sleep(300);
            assertTrue(jvisor.isAlive());
            try (QmpClient q = QmpClient.connect(socket)) {
                q.reply();
                q.sendRaw("{\"execute\": \"qmp_capabilities\"}");
                q.reply();
                assertEquals("\"running\"", field(q.execute("{\"execute\": \"query-status\"}"), "return", "status"));
                q.execute("{\"execute\": \"quit\"}");
            }
            assertEquals(0, jvisor.waitFor(), jvisor.transcript());
        }
    }
}
