package org.jvisor.qmp;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorSession;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live migration of a Linux guest that keeps writing memory: RAM goes over TCP in passes while
 * the guest runs, the guest stops only for the last dirty pages, and on the destination the
 * guest's loop and its shell go on where they were.
 */
@GuestTest
class LiveMigrationTest {

    private static JsonValue at(JsonObject o, String... path) {
        JsonValue v = o;
        for (String p : path) {
            v = ((JsonObject) v).members().get(p);
        }
        return v;
    }

    private static String[] args(GuestBuilder.Guest guest, Path qmp, String... extra) {
        java.util.List<String> a = new java.util.ArrayList<>(java.util.List.of("-accel", "tcg", "-m", "256M", "-nographic",
            "-kernel", guest.kernel().toString(), "-initrd", guest.initramfs().toString(), "-append", DemoGuest.CONSOLE,
            "-qmp", "unix:" + qmp + ",server=on,wait=off"));
        a.addAll(java.util.List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void aGuestWritingMemoryMovesLiveAndGoesOn(@TempDir Path dir) throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path srcQmp = dir.resolve("src.sock");
        Path dstQmp = dir.resolve("dst.sock");
        try (JvisorSession src = JvisorSession.start(args(guest, srcQmp, "-trace", "migration"));
             JvisorSession dst = JvisorSession.start(args(guest, dstQmp, "-incoming", "tcp:127.0.0.1:" + port,
                 "-trace", "migration"))) {
            src.expect(InitScript.READY_LINE);
            // a loop that dirties 16 MiB of tmpfs page cache over and over, and says how far it got
            src.send("i=0; while true; do i=$((i+1)); dd if=/dev/zero of=/tmp/f bs=1M count=16 2>/dev/null; "
                + "echo $i > /tmp/n; done &\n");
            src.send("sleep 2; echo be''fore-$(cat /tmp/n)-end\n");   // '' keeps the echoed line from matching
            src.expect("before-");
            int before = Integer.parseInt(src.expect("-end").replace("-end", "").trim());
            dst.expectStderr("waiting for the incoming migration");
            try (QmpClient q = QmpClient.connect(srcQmp)) {
                q.reply();
                q.execute("{\"execute\": \"qmp_capabilities\"}");
                q.execute("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"downtime-limit\": 100}}");
                assertEquals(100, ((JsonValue.JsonInt) at(q.execute("{\"execute\": \"query-migrate-parameters\"}"),
                    "return", "downtime-limit")).value());
                assertTrue(q.execute("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"downtime-limit\": -1}}")
                    .members().containsKey("error"), "QEMU's range");
                JsonObject r = q.execute("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:" + port + "\"}}");
                assertTrue(r.members().containsKey("return"), r.toString());
                // migrate replies at once; while it runs, query-migrate tells how far it is
                JsonObject info = (JsonObject) at(q.execute("{\"execute\": \"query-migrate\"}"), "return");
                boolean sawProgress = false;
                for (int i = 0; i < 2400 && !"completed".equals(((JsonValue.JsonString) at(info, "status")).value()); i++) {
                    assertTrue(java.util.Set.of("setup", "active").contains(((JsonValue.JsonString) at(info, "status")).value()),
                        info.toString());
                    if (info.members().get("ram") instanceof JsonObject ram && ((JsonValue.JsonInt) ram.members()
                            .get("transferred")).value() > 0) {
                        sawProgress = true;
                        assertTrue(info.members().containsKey("expected-downtime"), info.toString());
                        assertTrue(((JsonValue.JsonInt) ram.members().get("remaining")).value() >= 0, info.toString());
                    }
                    Thread.sleep(20);
                    info = (JsonObject) at(q.execute("{\"execute\": \"query-migrate\"}"), "return");
                }
                assertEquals("completed", ((JsonValue.JsonString) at(info, "status")).value(), info.toString());
                long passes = ((JsonValue.JsonInt) at(info, "ram", "dirty-sync-count")).value();
                long total = ((JsonValue.JsonInt) at(info, "total-time")).value();
                long downtime = ((JsonValue.JsonInt) at(info, "downtime")).value();
                assertTrue(passes >= 2, "RAM went in passes while the guest ran: " + info);
                assertTrue(downtime < total, "the guest was stopped for part of the migration only: " + info);
                assertTrue(sawProgress, "query-migrate showed the passes while the guest ran");
                q.execute("{\"execute\": \"quit\"}");
            }
            assertEquals(0, src.waitFor(), src.transcript());
            // -trace migration: each side's phases, the stop's and the resume's moments
            String srcTrace = src.expectStderr("confirmed");
            for (String phase : new String[] {"migration (source):", "pass-1", "stop at", "stop-vcpus", "save-vcpus",
                    "save-devices", "send-ram"}) {
                assertTrue(srcTrace.contains(phase), phase + " in " + srcTrace);
            }
            String dstTrace = dst.expectStderr("restored from tcp:127.0.0.1:" + port);
            for (String phase : new String[] {"migration (destination):", "receive-ram", "restore-devices", "restore-vcpus",
                    "resume at"}) {
                assertTrue(dstTrace.contains(phase), phase + " in " + dstTrace);
            }
            // the loop's next pass may take seconds on a loaded host: wait for it, not for a fixed time
            dst.send("until [ \"$(cat /tmp/n)\" -gt " + before + " ] 2>/dev/null; do sleep 1; done; "
                + "echo af''ter-$(cat /tmp/n)-end\n");
            dst.expect("after-");
            int after = Integer.parseInt(dst.expect("-end").replace("-end", "").trim());
            assertTrue(after > before, "the guest's loop went on from where it was: " + before + " -> " + after);
            dst.send("echo alive-$((6*7))\n");
            dst.expect("alive-42");
            dst.send("poweroff\n");
            assertEquals(0, dst.waitFor(), dst.transcript());
        }
    }
}
