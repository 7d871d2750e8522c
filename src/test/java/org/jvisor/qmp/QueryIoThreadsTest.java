package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.JvisorSession;

/**
 * query-iothreads lists each -object iothread as QEMU 7.2 does: its id, the Linux thread id of
 * its thread (a thread of the jvisor process, named after the id) and its poll settings.
 */
@GuestTest
class QueryIoThreadsTest {
    /** Hang guard only. */
    private static final long GUARD_NANOS = 60_000_000_000L;

    @Test
    void iothreadsAreListedWithTheirHostThreads(@TempDir Path dir) throws Exception {
        Path socket = dir.resolve("qmp.sock");
        Path disk = dir.resolve("d.img");
        Files.write(disk, new byte[64 * 1024]);
        try (JvisorSession jvisor = JvisorSession.start("-S", "-nographic", "-accel", "tcg", "-m", "64M",
                "-kernel", JvisorProcess.guest("hello.elf").toString(),
                "-object", "iothread,id=io0", "-object", "iothread,id=io1,poll-max-ns=0,poll-grow=4,poll-shrink=2",
                "-drive", "id=d0,file=" + disk + ",format=raw,if=none", "-device", "virtio-blk-pci,drive=d0,iothread=io1",
                "-qmp", "unix:" + socket + ",server=on,wait=off");
             QmpClient q = QmpClient.connect(socket)) {
            q.reply();
            q.execute("{\"execute\": \"qmp_capabilities\"}");
            List<JsonValue> threads;
            long start = System.nanoTime();
            while (true) {      // a thread's id is known once it runs
                threads = ((JsonArray) q.execute("{\"execute\": \"query-iothreads\"}").members().get("return")).elements();
                if (threads.stream().allMatch(t -> number(t, "thread-id") > 0)) {
                    break;
                }
                assertTrue(System.nanoTime() - start < GUARD_NANOS, "hang guard: " + threads);
                Thread.sleep(10);
            }
            assertEquals(2, threads.size(), threads.toString());
            String io0 = QmpClient.text(threads.get(0));
            long tid0 = number(threads.get(0), "thread-id");
            assertEquals("{\"id\": \"io0\", \"thread-id\": " + tid0 + ", \"poll-max-ns\": 32768, \"poll-grow\": 0, "
                + "\"poll-shrink\": 0, \"aio-max-batch\": 0}", io0);
            long tid1 = number(threads.get(1), "thread-id");
            assertEquals("{\"id\": \"io1\", \"thread-id\": " + tid1 + ", \"poll-max-ns\": 0, \"poll-grow\": 4, "
                + "\"poll-shrink\": 2, \"aio-max-batch\": 0}", QmpClient.text(threads.get(1)));
            for (long tid : new long[] {tid0, tid1}) {
                Path comm = Path.of("/proc/" + jvisor.pid() + "/task/" + tid + "/comm");
                assertTrue(Files.exists(comm), "thread " + tid + " is one of jvisor's");
            }
            assertEquals("io1", Files.readString(Path.of("/proc/" + jvisor.pid() + "/task/" + tid1 + "/comm")).strip());
            jvisor.terminate();
            jvisor.waitFor(60);
        }
    }

    private static long number(JsonValue v, String key) {
        return ((JsonValue.JsonInt) ((JsonObject) v).members().get(key)).value();
    }
}
