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
        java.util.List<String> a = new java.util.ArrayList<>(java.util.List.of("-accel", "tcg", "-display", "none",
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
                "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:4444\"}}"), "error", "class"));
            assertEquals("\"running\"", field(q.execute("{\"execute\": \"query-status\"}"), "return", "status"));
            assertEquals("{}", field(q.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"file:" + file + "\"}}"),
                "return"));
            q.event("STOP");
            assertEquals("\"postmigrate\"", field(q.execute("{\"execute\": \"query-status\"}"), "return", "status"));
            JsonObject info = q.execute("{\"execute\": \"query-migrate\"}");
            assertEquals("\"completed\"", field(info, "return", "status"), info.toString());
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
}
