package org.jvisor.qmp;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.qmp.json.JsonStreamParser;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.qmp.json.JsonWriter;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.JvisorSession;
import org.jvisor.testing.RequiredTools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same QMP script (src/test/resources/org/jvisor/qmp/qemu-comparison.qmp), fed through socat,
 * against Debian's QEMU 7.2 (-M none -S) and against jvisor (-S): every
 * message must have the same shape (keys and value types, in the same order of messages, events
 * included), errors the same class and text, the human monitor the same text. Values may differ
 * where the machines do (version numbers, thread ids, a vCPU that -M none does not have).
 */
@GuestTest
class QmpQemuComparisonTest {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    private static final long WATCHDOG_SECONDS = 120;
    private static final String UUID = "0e6ae8a0-5b1c-4d2e-9f3a-7c4b2a1d0e9f";

    /**
     * The script both servers get through socat: commands that apply to QEMU's -M none, the bad
     * input QEMU answers with errors; each line gets its reply (and the events it causes).
     */
    private static final String SCRIPT_RESOURCE = "qemu-comparison.qmp";

    @Test
    void everyReplyHasQemusShape(@TempDir Path dir) throws Exception {
        String script;
        try (var in = QmpQemuComparisonTest.class.getResourceAsStream(SCRIPT_RESOURCE)) {
            script = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        List<String> differences = compare(dir, script, List.of("-M", "none", "-name", "cmp", "-uuid", UUID),
            List.of("-name", "cmp", "-uuid", UUID), 40);
        assertEquals(List.of(), differences, "messages that differ from QEMU 7.2's");
    }

    /**
     * query-cpus-fast and query-block with two vCPUs and a virtio disk (QEMU's pc machine, -S):
     * the same shapes, but for the image's "actual-size" (allocated bytes, optional in QEMU's
     * schema), which jvisor does not report.
     */
    @Test
    void cpusAndDisksHaveQemusShape(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[1 << 20]);
        List<String> drive = List.of("-smp", "2", "-drive", "file=" + image + ",format=raw,if=virtio");
        List<String> qemuArgs = new ArrayList<>(List.of("-M", "pc", "-accel", "tcg"));
        qemuArgs.addAll(drive);
        List<String> differences = compare(dir, """
            {"execute":"qmp_capabilities"}
            {"execute":"query-cpus-fast"}
            {"execute":"query-block"}
            {"execute":"quit"}
            """, qemuArgs, drive, 5);
        assertEquals(List.of(), differences, "messages that differ from QEMU 7.2's");
    }

    /**
     * query-block with an IDE CD-ROM (QEMU's pc, -drive if=ide,media=cdrom): removable, with a
     * tray, and no virtio backend in its QOM path. (Alone, because arrays compare by their first
     * element; an IDE disk has a virtio disk's shape.)
     */
    @Test
    void ideCdromHasQemusShape(@TempDir Path dir) throws Exception {
        Path iso = dir.resolve("cd.iso");
        Files.write(iso, new byte[1 << 20]);
        List<String> drives = List.of("-drive", "file=" + iso + ",format=raw,if=ide,index=2,media=cdrom");
        List<String> qemuArgs = new ArrayList<>(List.of("-M", "pc", "-accel", "tcg"));
        qemuArgs.addAll(drives);
        List<String> differences = compare(dir, """
            {"execute":"qmp_capabilities"}
            {"execute":"query-block"}
            {"execute":"quit"}
            """, qemuArgs, drives, 4);
        assertEquals(List.of(), differences, "messages that differ from QEMU 7.2's");
    }

    /** Runs {@code script} on QEMU and on jvisor (both -S, with their own arguments); the messages that differ. */
    private static List<String> compare(Path dir, String script, List<String> qemuArgs, List<String> jvisorArgs, int atLeast)
            throws Exception {
        RequiredTools.assume(Files.isExecutable(QEMU), "qemu-system-x86_64 is not installed (Debian package qemu-system-x86): "
            + "the comparison with QEMU is skipped");
        RequiredTools.assume(Files.isExecutable(SOCAT), "socat is not installed (Debian package socat): "
            + "the comparison with QEMU is skipped");
        Path qemuSocket = dir.resolve("qemu.sock");
        List<String> qemuCmd = new ArrayList<>(List.of(QEMU.toString(), "-S", "-nodefaults", "-display", "none",
            "-qmp", "unix:" + qemuSocket + ",server=on,wait=off"));
        qemuCmd.addAll(qemuArgs);
        Process qemu = new ProcessBuilder(qemuCmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        List<JsonValue> fromQemu;
        try {
            fromQemu = session(qemuSocket, qemu::isAlive, script);
        } finally {
            qemu.destroy();
            qemu.waitFor(60, TimeUnit.SECONDS);
        }
        Path socket = dir.resolve("jvisor.sock");
        List<String> args = new ArrayList<>(List.of("-accel", "tcg", "-display", "none", "-serial", "none",
            "-kernel", JvisorProcess.guest("spin.elf").toString(), "-S", "-qmp", "unix:" + socket + ",server=on,wait=off"));
        args.addAll(jvisorArgs);
        List<JsonValue> fromJvisor;
        try (JvisorSession jvisor = JvisorSession.start(args.toArray(String[]::new))) {
            try {
                fromJvisor = session(socket, jvisor::isAlive, script);
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + "\n" + jvisor.transcript() + "\n" + threads(jvisor.pid()), e);
            }
            assertEquals(0, jvisor.waitFor(WATCHDOG_SECONDS), "jvisor's messages: " + fromJvisor.stream()
                .map(JsonWriter::compact).toList() + "\n" + jvisor.transcript());
        }
        assertTrue(fromQemu.size() >= atLeast, "QEMU answered the script: " + fromQemu.size() + " messages");
        fromQemu = fromQemu.stream().map(QmpQemuComparisonTest::withoutActualSize).toList();
        List<String> differences = new ArrayList<>();
        for (int i = 0; i < Math.max(fromQemu.size(), fromJvisor.size()); i++) {
            String q = i < fromQemu.size() ? JsonWriter.compact(fromQemu.get(i)) : "(nothing)";
            String j = i < fromJvisor.size() ? JsonWriter.compact(fromJvisor.get(i)) : "(nothing)";
            if (i >= fromQemu.size() || i >= fromJvisor.size() || !sameShape(fromQemu.get(i), fromJvisor.get(i))
                    || !sameText(fromQemu.get(i), fromJvisor.get(i))) {
                differences.add("message " + i + ":\n  qemu:   " + q + "\n  jvisor: " + j);
            }
        }
        return differences;
    }

    /** The threads of a hung jvisor, for the failure message. */
    private static String threads(long pid) {
        try {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jstack").toString(), Long.toString(pid))
                .redirectErrorStream(true).start();
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no thread dump: " + e.getMessage() + ")";
        }
    }

    /** QEMU's reply without the optional "actual-size" of images, which jvisor leaves out. */
    private static JsonValue withoutActualSize(JsonValue v) {
        return switch (v) {
            case JsonObject o -> {
                Map<String, JsonValue> m = new java.util.LinkedHashMap<>();
                o.members().forEach((k, x) -> {
                    if (!k.equals("actual-size")) {
                        m.put(k, withoutActualSize(x));
                    }
                });
                yield new JsonObject(m);
            }
            case JsonValue.JsonArray a -> new JsonValue.JsonArray(a.elements().stream().map(QmpQemuComparisonTest::withoutActualSize).toList());
            default -> v;
        };
    }

    private static final Path SOCAT = Path.of("/usr/bin/socat");

    /**
     * Feeds the script to the server through socat, as a person scripts QEMU, and reads every
     * message until the server closes after quit (socat's stdin stays open to the end, ignoreeof:
     * a half-closed connection would let a server drop the replies still to come). Each message
     * must be one CRLF-terminated line (QMP's framing).
     */
    private static List<JsonValue> session(Path socket, java.util.function.BooleanSupplier alive, String script)
            throws Exception {
        for (int i = 0; i < 2400 && !Files.exists(socket); i++) {
            assertTrue(alive.getAsBoolean(), "the server ended before listening on " + socket);
            Thread.sleep(50);
        }
        Path file = socket.resolveSibling(socket.getFileName() + ".qmp");
        Files.writeString(file, script);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WATCHDOG_SECONDS);
        while (true) {
            Process socat = new ProcessBuilder(SOCAT.toString(), "-t5", "STDIO,ignoreeof", "UNIX-CONNECT:" + socket)
                .redirectInput(file.toFile()).redirectError(ProcessBuilder.Redirect.PIPE).start();
            // hang guard: a server that never closes after quit fails the test with what it sent
            var out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return socat.getInputStream().readAllBytes();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            if (!socat.waitFor(WATCHDOG_SECONDS, TimeUnit.SECONDS)) {
                socat.destroyForcibly();
                throw new AssertionError("watchdog: " + socket + " still open " + WATCHDOG_SECONDS + " s after the script; "
                    + "received: " + new String(out.get(), StandardCharsets.UTF_8));
            }
            String err = new String(socat.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            if (socat.exitValue() != 0 && err.contains("Connection refused") && System.nanoTime() < deadline) {
                Thread.sleep(20);   // the socket file exists from bind(2) on, a moment before the server listens
                continue;
            }
            String text = new String(out.get(), StandardCharsets.UTF_8);
            assertTrue(text.endsWith("\r\n") && !text.replace("\r\n", "").contains("\n"), "CRLF framing: " + text + err);
            List<JsonValue> messages = new ArrayList<>();
            JsonStreamParser parser = new JsonStreamParser(new JsonStreamParser.Listener() {
                @Override
                public void value(JsonValue value) {
                    messages.add(value);
                }

                @Override
                public void error(String message) {
                    throw new AssertionError("the server sent bad JSON: " + message);
                }
            });
            byte[] bytes = out.get();
            parser.feed(bytes, 0, bytes.length);
            return messages;
        }
    }

    /** Keys (sorted) and value types; an empty array matches any array (-M none has no vCPU, no oob). */
    private static String shape(JsonValue v) {
        return switch (v) {
            case JsonObject o -> {
                Map<String, String> m = new TreeMap<>();
                o.members().forEach((k, x) -> m.put(k, shape(x)));
                yield m.toString();
            }
            case JsonValue.JsonArray a -> a.elements().isEmpty() ? "[]" : "[" + shape(a.elements().get(0)) + "]";
            default -> v.typeName();
        };
    }

    private static boolean sameShape(JsonValue a, JsonValue b) {
        if (a instanceof JsonValue.JsonArray x && b instanceof JsonValue.JsonArray y) {
            return x.elements().isEmpty() || y.elements().isEmpty() || sameShape(x.elements().get(0), y.elements().get(0));
        }
        if (a instanceof JsonObject x && b instanceof JsonObject y) {
            if (!x.members().keySet().equals(y.members().keySet())) {
                return false;
            }
            for (String k : x.members().keySet()) {
                if (!sameShape(x.members().get(k), y.members().get(k))) {
                    return false;
                }
            }
            return true;
        }
        return shape(a).equals(shape(b));
    }

    /**
     * Errors: the same class and text; the human monitor: the same text (but for the version
     * numbers); the same id echoed; the same run state and UUID.
     */
    private static boolean sameText(JsonValue a, JsonValue b) {
        if (a instanceof JsonObject x && b instanceof JsonObject y) {
            if (!java.util.Objects.equals(x.members().get("id"), y.members().get("id"))) {
                return false;
            }
            if (x.members().get("return") instanceof JsonObject r && y.members().get("return") instanceof JsonObject t) {
                for (String k : List.of("status", "running", "UUID")) {
                    if (!java.util.Objects.equals(r.members().get(k), t.members().get(k))) {
                        return false;
                    }
                }
            }
            if (x.members().containsKey("error")) {
                return x.members().get("error").equals(y.members().get("error"));
            }
            if (x.members().get("return") instanceof JsonValue.JsonString s && !s.value().startsWith("7.2.")) {
                return s.equals(y.members().get("return"));
            }
            if (x.members().get("event") != null) {
                return java.util.Objects.equals(x.members().get("event"), y.members().get("event"))
                    && java.util.Objects.equals(x.members().get("data"), y.members().get("data"));
            }
        }
        return true;
    }
}
