package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import org.jvisor.api.RunState;
import org.jvisor.api.VirtualMachine;
import org.jvisor.config.MachineConfig;
import org.jvisor.qmp.json.JsonStreamParser;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.qmp.json.JsonWriter;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * Fuzzes the QMP dispatcher of a real machine: a monitor session (the one a socket client gets,
 * here over an in-memory channel) on a machine built with -S (the spin guest, never started),
 * fed commands the fuzzer picks from the machine's own command table (or names it makes up),
 * with arguments of any name and JSON type, ids, and junk between them. quit, cont and the
 * migration commands are left out: they end or start the machine, which is not what is fuzzed.
 * Invariants: the greeting comes first; every input value and every parse error gets exactly one
 * reply ({"return":..} or QEMU's {"error":{"class":..,"desc":..}}, the id echoed), and every id
 * sent is answered once; nothing else is sent but events; the machine has not ended and is still
 * in a state -S and the commands allow.
 */
@GuestTest
class QmpDispatchFuzzTest {
    private static final Set<String> LEFT_OUT = Set.of("quit", "cont", "migrate", "migrate-incoming", "migrate_cancel");
    private static final String[] HMP = {"info status", "info version", "info block", "info chardev", "info cpus",
        "info registers", "info mtree", "stop", "system_reset", "info", "help", "", "x /4x 0", "xp /16b 0x1000"};
    private static final String[] KEYS = {"enable", "flat", "query-nodes", "command-line", "cpu-index", "device", "id",
        "capabilities", "uri", "detach", "x"};

    /** One machine for the whole run: building one costs far more than thousands of commands. */
    private static VirtualMachine vm;
    private static QmpCommands commands;
    private static List<String> names;

    @BeforeAll
    static void machine() throws Exception {
        MachineConfig config = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(16L << 20)
            .kernel(JvisorProcess.guest("spin.elf")).build();
        vm = VirtualMachine.create(config, new PrintStream(OutputStream.nullOutputStream()));
        commands = new QmpCommands(vm, "jvisor fuzz", false, List::of, QomNames.NONE);
        names = new ArrayList<>();
        for (JsonValue v : ((JsonValue.JsonArray) commands.commands().names()).elements()) {
            String name = ((JsonValue.JsonString) ((JsonObject) v).members().get("name")).value();
            if (!LEFT_OUT.contains(name)) {
                names.add(name);
            }
        }
    }

    @AfterAll
    static void close() {
        if (vm != null) {
            vm.close();
        }
    }

    @FuzzTest(maxDuration = "60s")
    void commands(FuzzedDataProvider data) throws InterruptedException {
        StringBuilder in = new StringBuilder();
        List<String> ids = new ArrayList<>();
        boolean junk = false;
        if (data.consumeInt(0, 7) != 0) {
            in.append("{\"execute\":\"qmp_capabilities\"}\n");
        }
        for (int i = 0; i < 24 && data.remainingBytes() > 0; i++) {
            if (data.consumeInt(0, 7) == 0) {
                // junk, then a resynchronization byte (qmp-spec 2.1) so what follows is read afresh
                in.append(data.consumeString(32)).append('\u00FF');
                junk = true;
                continue;
            }
            String name = data.consumeInt(0, 7) == 0 ? data.consumeString(16) : names.get(data.consumeInt(0, names.size() - 1));
            if (LEFT_OUT.contains(name)) {
                continue;
            }
            String id = "c" + i;
            StringBuilder cmd = new StringBuilder("{\"execute\":").append(JsonWriter.compact(new JsonValue.JsonString(name)));
            if (name.equals("human-monitor-command")) {
                cmd.append(",\"arguments\":{\"command-line\":")
                    .append(JsonWriter.compact(new JsonValue.JsonString(HMP[data.consumeInt(0, HMP.length - 1)]))).append('}');
            } else if (data.consumeBoolean()) {
                // distinct names: a duplicate key is a parse error (no id to answer to)
                List<String> keys = new ArrayList<>();
                for (int a = data.consumeInt(0, 3); a > 0; a--) {
                    String key = KEYS[data.consumeInt(0, KEYS.length - 1)];
                    if (!keys.contains(key)) {
                        keys.add(key);
                    }
                }
                cmd.append(",\"arguments\":{");
                for (int a = 0; a < keys.size(); a++) {
                    cmd.append(a > 0 ? "," : "").append(JsonWriter.compact(new JsonValue.JsonString(keys.get(a))))
                        .append(':').append(value(data));
                }
                cmd.append('}');
            }
            cmd.append(",\"id\":\"").append(id).append("\"}");
            in.append(cmd);
            ids.add(id);
        }
        byte[] input = in.toString().getBytes(StandardCharsets.UTF_8);
        Channel channel = new Channel(input);
        new QmpSession(channel, commands, false, msg -> { }).run("qmp fuzz");

        // what the session owes: one reply per value and per parse error of the same stream
        int[] owed = new int[1];
        new JsonStreamParser(new JsonStreamParser.Listener() {
            @Override
            public void value(JsonValue value) {
                owed[0]++;
            }

            @Override
            public void error(String message) {
                owed[0]++;
            }
        }).feed(input, 0, input.length);

        List<JsonValue> out = new ArrayList<>();
        new JsonStreamParser(new JsonStreamParser.Listener() {
            @Override
            public void value(JsonValue value) {
                out.add(value);
            }

            @Override
            public void error(String message) {
                throw new AssertionError("the monitor sent bad JSON: " + message);
            }
        }).feed(channel.written(), 0, channel.written().length);
        assertTrue(!out.isEmpty() && ((JsonObject) out.getFirst()).members().containsKey("QMP"), "greeting first");
        int replies = 0;
        Map<String, Integer> answered = new HashMap<>();
        for (JsonValue v : out.subList(1, out.size())) {
            Map<String, JsonValue> m = assertInstanceOf(JsonObject.class, v).members();
            if (m.containsKey("event")) {
                continue;
            }
            replies++;
            if (m.containsKey("error")) {
                Map<String, JsonValue> e = assertInstanceOf(JsonObject.class, m.get("error")).members();
                assertEquals(Set.of("class", "desc"), e.keySet(), "error reply " + JsonWriter.compact(v));
                assertInstanceOf(JsonValue.JsonString.class, e.get("class"));
                assertInstanceOf(JsonValue.JsonString.class, e.get("desc"));
                assertTrue(Set.of("error", "id").containsAll(m.keySet()), "reply " + JsonWriter.compact(v));
            } else {
                assertTrue(m.containsKey("return") && Set.of("return", "id").containsAll(m.keySet()),
                    "reply " + JsonWriter.compact(v));
            }
            if (m.get("id") instanceof JsonValue.JsonString s) {
                answered.merge(s.value(), 1, Integer::sum);
            }
        }
        assertEquals(owed[0], replies, "replies to " + new String(input, StandardCharsets.UTF_8));
        for (String id : ids) {
            assertTrue(answered.getOrDefault(id, 0) <= 1, "id " + id + " answered " + answered.get(id) + " times");
            assertTrue(junk || answered.getOrDefault(id, 0) == 1, "id " + id + " not answered: " + new String(input, StandardCharsets.UTF_8) + " -> " + new String(channel.written(), StandardCharsets.UTF_8));
        }
        assertTrue(vm.awaitExit(Duration.ZERO).isEmpty(), "the machine ended");
        assertTrue(Set.of(RunState.PRELAUNCH, RunState.PAUSED).contains(vm.status()), "machine state " + vm.status());
    }

    /** An argument value of any JSON type. */
    private static String value(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 6)) {
            case 0 -> "true";
            case 1 -> "null";
            case 2 -> Long.toString(data.consumeLong());
            case 3 -> "[" + JsonWriter.compact(new JsonValue.JsonString(data.consumeString(8))) + "]";
            case 4 -> "{}";
            case 5 -> Double.toString(data.consumeDouble());
            default -> JsonWriter.compact(new JsonValue.JsonString(data.consumeString(24)));
        };
    }

    /** A client in memory: its whole input at once, then end of stream; what the monitor writes is kept. */
    private static final class Channel implements ByteChannel {
        private final ByteBuffer input;
        private final ByteArrayOutputStream output = new ByteArrayOutputStream();
        private volatile boolean open = true;

        Channel(byte[] input) {
            this.input = ByteBuffer.wrap(input);
        }

        @Override
        public int read(ByteBuffer dst) {
            if (!input.hasRemaining()) {
                return -1;
            }
            int n = Math.min(dst.remaining(), input.remaining());
            dst.put(input.slice(input.position(), n));
            input.position(input.position() + n);
            return n;
        }

        @Override
        public synchronized int write(ByteBuffer src) {
            int n = src.remaining();
            byte[] b = new byte[n];
            src.get(b);
            output.write(b, 0, n);
            return n;
        }

        synchronized byte[] written() {
            return output.toByteArray();
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }
}
