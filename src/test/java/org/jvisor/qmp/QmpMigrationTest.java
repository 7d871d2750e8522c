package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.JvisorSession;

/**
 * Snapshots over QMP as QEMU's users spell them: migrate to file:PATH stops a running guest (STOP,
 * status postmigrate) and query-migrate reports it completed; a second jvisor started with
 * -incoming defer waits in inmigrate until migrate-incoming, then runs on because the source was
 * running and -S was not given. Unsupported URIs and wrong states get QEMU's GenericError.
 */
@GuestTest
class QmpMigrationTest {

    private static String field(JsonObject o, String... path) {
        JsonValue v = o;
        for (String p : path) {
            v = ((JsonObject) v).members().get(p);
        }
        return QmpClient.text(v);
    }

    private static String[] jvisor(Path socket, String... extra) {
        return jvisorOn("tcg", socket, extra);
    }

    private static String[] jvisorOn(String accel, Path socket, String... extra) {
        java.util.List<String> a = new java.util.ArrayList<>(java.util.List.of("-accel", accel, "-display", "none",
            "-serial", "none", "-kernel", JvisorProcess.guest("spin.elf").toString(),
            "-qmp", "unix:" + socket + ",server=on,wait=off"));
        a.addAll(java.util.List.of(extra));
        return a.toArray(new String[0]);
    }

    @Test
    void migrateToAFileThenMigrateIncomingInAnotherJvisor(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("vm.jvsnap");
        Path src = dir.resolve("src.sock");
        try (JvisorSession jvisor = JvisorSession.start(jvisor(src)); QmpClient q = QmpClient.connect(src)) {
            q.reply();
            q.execute("{\"execute\": \"qmp_capabilities\"}");
            assertEquals("{}", field(q.execute("{\"execute\": \"query-migrate\"}"), "return"), "none yet: {}");
            assertEquals("\"GenericError\"", field(q.execute(
                "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"rdma:127.0.0.1:4444\"}}"), "error", "class"));
            assertEquals("\"running\"", field(q.execute("{\"execute\": \"query-status\"}"), "return", "status"));
            assertEquals("{}", field(q.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"file:" + file + "\"}}"),
                "return"));
            q.event("STOP");
            JsonObject info = awaitEnd(q);
            assertEquals("\"completed\"", field(info, "return", "status"), info.toString());
            assertEquals("\"postmigrate\"", field(q.execute("{\"execute\": \"query-status\"}"), "return", "status"));
            assertTrue(Files.size(file) > 0);
            q.execute("{\"execute\": \"quit\"}");
            jvisor.waitFor();
        }
        Path dst = dir.resolve("dst.sock");
        try (JvisorSession jvisor = JvisorSession.start(jvisor(dst, "-incoming", "defer")); QmpClient q = QmpClient.connect(dst)) {
            q.reply();
            q.execute("{\"execute\": \"qmp_capabilities\"}");
            assertEquals("\"inmigrate\"", field(q.execute("{\"execute\": \"query-status\"}"), "return", "status"));
            assertEquals("\"GenericError\"", field(q.execute("{\"execute\": \"cont\"}"), "error", "class"),
                "nothing to run before the snapshot arrives");
            assertEquals("{}", field(q.execute("{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"file:" + file
                + "\"}}"), "return"));
            assertEquals("\"running\"", field(q.execute("{\"execute\": \"query-status\"}"), "return", "status"),
                "the source ran when it was saved and -S was not given: it runs on");
            assertEquals("\"GenericError\"", field(q.execute("{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"file:"
                + file + "\"}}"), "error", "class"), "only once");
            q.execute("{\"execute\": \"quit\"}");
            assertEquals(0, jvisor.waitFor(), jvisor.transcript());
        }
    }

    /**
     * The same on the kvm engine (KVM's in-kernel irqchip, PIT, kvmclock and vCPU state go into
     * the file): a running guest saved to a file stops, a second jvisor with -incoming file: runs
     * on; so does a tcg jvisor from the same file (the snapshot crosses engines).
     */
    @Test
    void onKvmMigrateToAFileAndIncomingFromIt(@TempDir Path dir) throws Exception {
        org.jvisor.testing.KvmAvailability.assumeKvm();
        Path file = dir.resolve("kvm.jvsnap");
        Path src = dir.resolve("src.sock");
        try (JvisorSession jvisor = JvisorSession.start(jvisorOn("kvm", src)); QmpClient q = negotiated(src)) {
            assertEquals("\"running\"", status(q));
            assertEquals("{}", field(q.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"file:" + file + "\"}}"),
                "return"));
            q.event("STOP");
            JsonObject info = awaitEnd(q);
            assertEquals("\"completed\"", field(info, "return", "status"), info + jvisor.transcript());
            q.execute("{\"execute\": \"quit\"}");
            assertEquals(0, jvisor.waitFor(), jvisor.transcript());
        }
        Path dst = dir.resolve("dst.sock");
        try (JvisorSession jvisor = JvisorSession.start(jvisorOn("kvm", dst, "-incoming", "file:" + file));
             QmpClient q = negotiated(dst)) {
            awaitRunning(q, jvisor);
            q.execute("{\"execute\": \"quit\"}");
            assertEquals(0, jvisor.waitFor(), jvisor.transcript());
        }
        Path tcg = dir.resolve("tcg.sock");
        try (JvisorSession jvisor = JvisorSession.start(jvisorOn("tcg", tcg, "-incoming", "file:" + file));
             QmpClient q = negotiated(tcg)) {
            awaitRunning(q, jvisor);
            q.execute("{\"execute\": \"quit\"}");
            assertEquals(0, jvisor.waitFor(), jvisor.transcript());
        }
    }

    private static QmpClient negotiated(Path socket) throws Exception {
        QmpClient q = QmpClient.connect(socket);
        q.reply();
        q.execute("{\"execute\": \"qmp_capabilities\"}");
        return q;
    }

    private static String status(QmpClient q) throws Exception {
        return field(q.execute("{\"execute\": \"query-status\"}"), "return", "status");
    }

    /** Migrates the machine behind {@code q} to {@code uri}, checking QEMU's MIGRATION event sequence. */
    private static void migrate(QmpClient q, String uri) throws Exception {
        assertEquals("{}", field(q.execute("{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
            + "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}}"), "return"));
        assertEquals("{}", field(q.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"" + uri + "\"}}"),
            "return"));
        for (String s : new String[] {"setup", "active", "completed"}) {
            assertEquals("\"" + s + "\"", field(q.event("MIGRATION"), "data", "status"), uri);
        }
        assertEquals("\"completed\"", field(q.execute("{\"execute\": \"query-migrate\"}"), "return", "status"));
        assertEquals("\"postmigrate\"", status(q));
    }

    /** query-migrate once the migration has ended: migrate replies at once, as QEMU's. */
    private static JsonObject awaitEnd(QmpClient q) throws Exception {
        JsonObject info = q.execute("{\"execute\": \"query-migrate\"}");
        for (int i = 0; i < 2400 && java.util.Set.of("\"setup\"", "\"active\"", "\"cancelling\"")
                .contains(field(info, "return", "status")); i++) {
            Thread.sleep(50);
            info = q.execute("{\"execute\": \"query-migrate\"}");
        }
        return info;
    }

    private static void awaitRunning(QmpClient q, JvisorSession j) throws Exception {
        for (int i = 0; i < 2400 && !status(q).equals("\"running\""); i++) {
            assertTrue(j.isAlive(), j.transcript());
            Thread.sleep(50);
        }
        assertEquals("\"running\"", status(q), j.transcript());
    }

    /**
     * A running guest moves through four jvisor processes: over TCP to a destination started
     * with -incoming tcp:, through a shell command (exec:cat) into a file and out of it again
     * (-incoming exec:), then over a Unix socket to a destination waiting with -incoming defer and
     * migrate-incoming unix:. Each destination runs on by itself (the source ran, no -S).
     */
    @Test
    void aRunningGuestMovesOverTcpExecAndUnixSockets(@TempDir Path dir) throws Exception {
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path stream = dir.resolve("stream.jvsnap");
        Path s1 = dir.resolve("1.sock"), s2 = dir.resolve("2.sock"), s3 = dir.resolve("3.sock"), s4 = dir.resolve("4.sock");
        Path unix = dir.resolve("migrate.sock");
        try (JvisorSession first = JvisorSession.start(jvisor(s1));
             JvisorSession second = JvisorSession.start(jvisor(s2, "-incoming", "tcp:127.0.0.1:" + port));
             QmpClient q1 = negotiated(s1); QmpClient q2 = negotiated(s2)) {
            second.expectStderr("waiting for the incoming migration on tcp:127.0.0.1:" + port);
            assertEquals("\"inmigrate\"", status(q2), "the monitor answers while the destination waits");
            migrate(q1, "tcp:127.0.0.1:" + port);
            awaitRunning(q2, second);
            q1.execute("{\"execute\": \"quit\"}");
            assertEquals(0, first.waitFor(), first.transcript());

            migrate(q2, "exec:cat > " + stream);
            assertTrue(Files.size(stream) > 0);
            q2.execute("{\"execute\": \"quit\"}");
            assertEquals(0, second.waitFor(), second.transcript());
        }
        try (JvisorSession third = JvisorSession.start(jvisor(s3, "-incoming", "exec:cat " + stream));
             JvisorSession fourth = JvisorSession.start(jvisor(s4, "-incoming", "defer"));
             QmpClient q3 = negotiated(s3); QmpClient q4 = negotiated(s4)) {
            awaitRunning(q3, third);
            assertEquals("{}", field(q4.execute("{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"unix:"
                + unix + "\"}}"), "return"), "returns at once; the stream comes later");
            assertEquals("\"inmigrate\"", status(q4));
            for (int i = 0; i < 2400 && !Files.exists(unix); i++) {
                Thread.sleep(50);
            }
            migrate(q3, "unix:" + unix);
            awaitRunning(q4, fourth);
            q3.execute("{\"execute\": \"quit\"}");
            q4.execute("{\"execute\": \"quit\"}");
            assertEquals(0, third.waitFor(), third.transcript());
            assertEquals(0, fourth.waitFor(), fourth.transcript());
        }
    }

    /**
     * migrate replies at once and the monitor keeps answering while the stream waits on a
     * destination that takes nothing (a command that never reads): a second migrate is refused
     * with QEMU's words, query-migrate says active, and migrate_cancel ends it (cancelling, then
     * cancelled, as MIGRATION events) with the guest running on; a new migration then works.
     */
    @Test
    void migrateCancelStopsAMigrationThatCannotProceedAndTheGuestRunsOn(@TempDir Path dir) throws Exception {
        Path s1 = dir.resolve("1.sock");
        Path file = dir.resolve("after-cancel.jvsnap");
        try (JvisorSession src = JvisorSession.start(jvisor(s1, "-m", "64M")); QmpClient q = negotiated(s1)) {
            assertEquals("{}", field(q.execute("{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
                + "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}}"), "return"));
            assertEquals("{}", field(q.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"exec:sleep 60\"}}"),
                "return"), "the reply does not wait for the stream");
            assertEquals("\"setup\"", field(q.event("MIGRATION"), "data", "status"));
            assertEquals("\"active\"", field(q.event("MIGRATION"), "data", "status"));
            JsonObject busy = q.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"file:" + file + "\"}}");
            assertEquals("\"GenericError\"", field(busy, "error", "class"), busy.toString());
            assertTrue(field(busy, "error", "desc").contains("There's a migration process in progress"), busy.toString());
            JsonObject info = q.execute("{\"execute\": \"query-migrate\"}");
            assertEquals("\"active\"", field(info, "return", "status"), info.toString());
            assertEquals("{}", field(q.execute("{\"execute\": \"migrate_cancel\"}"), "return"));
            assertEquals("\"cancelling\"", field(q.event("MIGRATION"), "data", "status"));
            assertEquals("\"cancelled\"", field(q.event("MIGRATION"), "data", "status"));
            assertEquals("\"cancelled\"", field(awaitEnd(q), "return", "status"));
            awaitRunning(q, src);
            assertEquals("{}", field(q.execute("{\"execute\": \"migrate_cancel\"}"), "return"), "nothing to cancel: {}");
            migrate(q, "file:" + file);
            assertTrue(Files.size(file) > 0);
            q.execute("{\"execute\": \"quit\"}");
            assertEquals(0, src.waitFor(), src.transcript());
        }
    }

    /** A source whose destination is not there fails, says why, and runs on; a destination fed garbage ends with status 1. */
    @Test
    void aMissingDestinationFailsTheMigrationAndTheSourceRunsOn(@TempDir Path dir) throws Exception {
        Path s1 = dir.resolve("1.sock");
        try (JvisorSession src = JvisorSession.start(jvisor(s1)); QmpClient q = negotiated(s1)) {
            assertEquals("{}", field(q.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"unix:"
                + dir.resolve("nobody.sock") + "\"}}"), "return"));
            JsonObject info = awaitEnd(q);
            assertEquals("\"failed\"", field(info, "return", "status"), info.toString());
            assertTrue(field(info, "return", "error-desc").contains("cannot connect"), info.toString());
            assertEquals("\"running\"", status(q));
            q.execute("{\"execute\": \"quit\"}");
            assertEquals(0, src.waitFor(), src.transcript());
        }
        try (JvisorSession dst = JvisorSession.start(jvisor(dir.resolve("2.sock"), "-incoming", "exec:echo garbage"))) {
            assertEquals(1, dst.waitFor(), dst.transcript());
            assertTrue(dst.stderr().contains("exec:echo garbage is truncated") || dst.stderr().contains("is not a jvisor snapshot"),
                dst.transcript());
        }
    }
}
