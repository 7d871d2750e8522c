package org.jvisor.qmp;

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
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.jvisor.qmp.json.JsonReader;
import org.jvisor.qmp.json.JsonStreamParser;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.qmp.json.JsonWriter;

/**
 * A QMP client on a JDK socket, as a management tool is: reads the stream with jvisor's own
 * parser on a thread of its own, keeps events apart from replies. The timeouts are hang guards.
 */
final class QmpClient implements AutoCloseable {
    private static final long GUARD_SECONDS = 120;

    private final SocketChannel channel;
    private final LinkedBlockingQueue<JsonObject> replies = new LinkedBlockingQueue<>();
    private final LinkedBlockingQueue<JsonObject> events = new LinkedBlockingQueue<>();
    private final List<String> errors = new ArrayList<>();
    private final Thread reader;
    private volatile boolean eof;

    private QmpClient(SocketChannel channel) {
        this.channel = channel;
        JsonStreamParser parser = new JsonStreamParser(new JsonStreamParser.Listener() {
            @Override
            public void value(JsonValue v) {
                JsonObject o = (JsonObject) v;
                (o.members().containsKey("event") ? events : replies).add(o);
            }

            @Override
            public void error(String message) {
                errors.add(message);
            }
        });
        reader = Thread.ofPlatform().daemon().start(() -> {
            ByteBuffer buf = ByteBuffer.allocate(8192);
            try {
                int n;
                while ((n = channel.read(buf.clear())) > 0) {
                    parser.feed(buf.array(), 0, n);
                }
            } catch (IOException e) {
                // closed
            }
            eof = true;
        });
    }

    /** Connects to {@code socket}, waiting (bounded) for jvisor to create it. */
    static QmpClient connect(Path socket) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GUARD_SECONDS);
        while (true) {
            if (Files.exists(socket)) {
                try {
                    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    ch.connect(UnixDomainSocketAddress.of(socket));
                    return new QmpClient(ch);
                } catch (IOException e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("watchdog: no socket at " + socket);
            }
            Thread.sleep(50);
        }
    }

    /** Connects to a TCP monitor on this host. */
    static QmpClient connectTcp(int port) throws IOException {
        return new QmpClient(SocketChannel.open(new java.net.InetSocketAddress("127.0.0.1", port)));
    }

    /** The next reply (or the greeting). */
    JsonObject reply() throws InterruptedException {
        JsonObject r = replies.poll(GUARD_SECONDS, TimeUnit.SECONDS);
        if (r == null) {
            throw new AssertionError("watchdog: no reply (connection " + (eof ? "closed" : "open") + ")");
        }
        return r;
    }

    /** Sends raw bytes, as a (possibly broken) client would. */
    void sendRaw(String text) throws IOException {
        sendRaw(text.getBytes(StandardCharsets.UTF_8));
    }

    void sendRaw(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    /** Sends {@code json} (a command) and returns its reply. */
    JsonObject execute(String json) throws IOException, InterruptedException {
        sendRaw(json);
        return reply();
    }

    /** The next event called {@code name}, skipping others. */
    JsonObject event(String name) throws InterruptedException {
        while (true) {
            JsonObject e = events.poll(GUARD_SECONDS, TimeUnit.SECONDS);
            if (e == null) {
                throw new AssertionError("watchdog: no " + name + " event");
            }
            if (e.members().get("event").equals(new JsonValue.JsonString(name))) {
                return e;
            }
        }
    }

    /** Events received so far and not yet taken, by name. */
    List<String> pendingEventNames() {
        return events.stream().map(e -> ((JsonValue.JsonString) e.members().get("event")).value()).toList();
    }

    /** Waits until jvisor closes the connection. */
    void awaitClosed() throws InterruptedException {
        reader.join(TimeUnit.SECONDS.toMillis(GUARD_SECONDS));
        if (!eof) {
            throw new AssertionError("watchdog: the connection stayed open");
        }
    }

    static JsonValue parse(String json) {
        try {
            return JsonReader.parse(json);
        } catch (org.jvisor.qmp.json.JsonParseException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static String text(JsonValue v) {
        return JsonWriter.compact(v);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
