package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.function.Consumer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.qmp.QmpCommandTable.Param;
import org.jvisor.qmp.QmpCommandTable.Type;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.sys.Errno;
import org.jvisor.sys.Fd;
import org.jvisor.sys.FdChannel;
import org.jvisor.testing.ScmQmpClient;
import org.jvisor.sys.Sockets;

/**
 * getfd and closefd through the real path: a QMP session reading a Unix socket with recvmsg, the
 * test a client that passes descriptors with a real sendmsg (SCM_RIGHTS). Each descriptor passed
 * is one end of a socket pair whose other end the test keeps: it reads end-of-file exactly when
 * every copy of the passed end is closed, so a leak, or a close too early, shows. Replies are
 * QEMU 7.2's (checked against qemu-system-x86_64 7.2 with Python's socket.send_fds).
 */
class QmpGetfdTest {
    private final MonitorFds monitorFds = new MonitorFds();
    private ScmQmpClient client;
    private Thread session;

    /** A service with negotiation, getfd/closefd, and x-take: netdev_add's way of taking a named descriptor. */
    private static QmpService service() {
        QmpCommandTable table = new QmpCommandTable();
        table.add("qmp_capabilities", List.of(new Param("enable", Type.ARRAY, false)), a -> JsonObject.EMPTY);
        table.add("query-status", List.of(), a -> JsonObject.EMPTY);
        FdCommands.register(table);
        table.add("x-take", List.of(new Param("fdname", Type.STRING, true)), a -> {
            try {
                int fd = FdCommands.take(((JsonValue.JsonString) a.members().get("fdname")).value());
                Fd.adopt(fd, "taken").close();
                return JsonObject.EMPTY;
            } catch (IllegalArgumentException e) {
                throw QmpError.generic(e.getMessage());
            }
        });
        return new QmpService() {
            @Override
            public JsonObject version() {
                return JsonObject.EMPTY;
            }

            @Override
            public QmpCommandTable commands() {
                return table;
            }

            @Override
            public AutoCloseable subscribe(Consumer<JsonObject> sink) {
                return () -> { };
            }
        };
    }

    @BeforeEach
    void connect() throws Exception {
        Sockets.Pair pair = Sockets.socketPair(Sockets.SOCK_STREAM);
        client = new ScmQmpClient(pair.first());
        QmpSession s = new QmpSession(new FdChannel(pair.second()), service(), false, msg -> { }, monitorFds);
        session = Thread.ofPlatform().start(() -> s.run("qmp getfd test"));
        assertTrue(client.line().startsWith("{\"QMP\""));
        assertEquals("{\"return\": {}}", send("{\"execute\":\"qmp_capabilities\"}"));
    }

    @AfterEach
    void close() throws Exception {
        client.close();
        session.join();
        monitorFds.close();
    }

    /** Sends {@code command} with {@code fds} attached (one sendmsg); its reply. */
    private String send(String command, Fd... fds) throws Exception {
        return client.execute(command, fds);
    }

    /** A descriptor to pass, and the end that tells whether any copy of it is still open. */
    private record Probe(Fd passed, Fd watch) {
        /** Whether a copy of the passed end is still open anywhere (no end-of-file on the other end). */
        boolean open() {
            try (Arena a = Arena.ofConfined()) {
                long n = watch.readNow(a.allocate(1), 1);
                return n == -Errno.EAGAIN.code();
            }
        }
    }

    /** A probe whose passed end the test has already closed: only the session's copy can keep it open. */
    private Probe passAndForget(List<Fd> toPass) throws Exception {
        Sockets.Pair p = Sockets.socketPair(Sockets.SOCK_STREAM | Sockets.SOCK_NONBLOCK);
        toPass.add(p.first());
        return new Probe(p.first(), p.second());
    }

    private static String err(String desc) {
        return "{\"error\": {\"class\": \"GenericError\", \"desc\": \"" + desc + "\"}}";
    }

    @Test
    void getfdNamesThePassedDescriptorAndClosefdClosesIt() throws Exception {
        assertEquals(err("No file descriptor supplied via SCM_RIGHTS"), send("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"a\"}}"));
        List<Fd> mine = new java.util.ArrayList<>();
        Probe a = passAndForget(mine);
        assertEquals("{\"return\": {}}", send("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"hostnet0-fd\"}}", a.passed()));
        a.passed().close();
        assertTrue(a.open(), "the monitor holds it");
        assertEquals(List.of("hostnet0-fd"), monitorFds.names());

        // the same name again replaces, and closes, the descriptor it had
        List<Fd> more = new java.util.ArrayList<>();
        Probe b = passAndForget(more);
        assertEquals("{\"return\": {}}", send("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"hostnet0-fd\"}}", b.passed()));
        b.passed().close();
        assertFalse(a.open(), "replaced, closed");
        assertTrue(b.open());

        assertEquals("{\"return\": {}}", send("{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"hostnet0-fd\"}}"));
        assertFalse(b.open());
        assertEquals(err("File descriptor named 'hostnet0-fd' not found"),
            send("{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"hostnet0-fd\"}}"));
        assertEquals(List.of(), monitorFds.names());
        a.watch().close();
        b.watch().close();
    }

    @Test
    void aNameStartingWithADigitIsRefusedAndItsDescriptorClosed() throws Exception {
        List<Fd> mine = new java.util.ArrayList<>();
        Probe p = passAndForget(mine);
        assertEquals(err("Parameter 'fdname' expects a name not starting with a digit"),
            send("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"1a\"}}", p.passed()));
        p.passed().close();
        assertFalse(p.open());
        p.watch().close();
    }

    /**
     * As QEMU: descriptors passed with a command that does not take them wait for the next
     * getfd; a later message with descriptors replaces (closes) them; of several in one message,
     * getfd takes the first and closes the rest; what is still waiting when the client leaves is
     * closed, while named ones stay with the monitor.
     */
    @Test
    void passedDescriptorsWaitForGetfdAndNoneLeaks() throws Exception {
        List<Fd> mine = new java.util.ArrayList<>();
        Probe early = passAndForget(mine);
        assertEquals("{\"return\": {}}", send("{\"execute\":\"query-status\"}", early.passed()));
        early.passed().close();
        assertTrue(early.open(), "kept for a getfd to come");
        Probe later = passAndForget(mine);
        assertEquals("{\"return\": {}}", send("{\"execute\":\"query-status\"}", later.passed()));
        later.passed().close();
        assertFalse(early.open(), "replaced by the later message's");
        assertTrue(later.open());
        assertEquals("{\"return\": {}}", send("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"late\"}}"));
        assertTrue(later.open());

        Probe first = passAndForget(mine);
        Probe second = passAndForget(mine);
        assertEquals("{\"return\": {}}", send("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"two\"}}",
            first.passed(), second.passed()));
        first.passed().close();
        second.passed().close();
        assertTrue(first.open());
        assertFalse(second.open(), "only the first of a message is taken");

        // x-take (netdev_add's fd=NAME) takes a named one out of the monitor
        assertEquals("{\"return\": {}}", send("{\"execute\":\"x-take\",\"arguments\":{\"fdname\":\"two\"}}"));
        assertFalse(first.open());
        assertEquals(err("File descriptor named 'two' has not been found"),
            send("{\"execute\":\"x-take\",\"arguments\":{\"fdname\":\"two\"}}"));

        Probe waiting = passAndForget(mine);
        assertEquals("{\"return\": {}}", send("{\"execute\":\"query-status\"}", waiting.passed()));
        waiting.passed().close();
        assertTrue(waiting.open());
        client.close();
        session.join();
        assertFalse(waiting.open(), "closed with the connection");
        assertTrue(later.open(), "a named one stays with the monitor");
        monitorFds.close();
        assertFalse(later.open(), "and goes with it");
        for (Probe p : List.of(early, later, first, second, waiting)) {
            p.watch().close();
        }
    }

    /** query-commands and query-qmp-schema list them as QEMU 7.2 does: {"fdname": "str"} each. */
    @Test
    void discoveryListsThem() {
        QmpCommandTable table = service().commands();
        String names = org.jvisor.qmp.json.JsonWriter.compact(table.names());
        assertTrue(names.contains("\"getfd\"") && names.contains("\"closefd\""), names);
        JsonValue.JsonArray schema = QmpSchema.of(table);
        for (String command : List.of("getfd", "closefd")) {
            JsonObject entry = schema.elements().stream().map(e -> (JsonObject) e)
                .filter(e -> e.members().get("name").equals(new JsonValue.JsonString(command))).findFirst().orElseThrow();
            JsonValue argType = entry.members().get("arg-type");
            JsonObject args = schema.elements().stream().map(e -> (JsonObject) e)
                .filter(e -> e.members().get("name").equals(argType)).findFirst().orElseThrow();
            assertEquals(List.of(JsonObject.builder().put("name", "fdname").put("type", "str").build()),
                ((JsonValue.JsonArray) args.members().get("members")).elements(), command);
        }
    }
}
