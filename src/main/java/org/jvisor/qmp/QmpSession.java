package org.jvisor.qmp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

import org.jvisor.qmp.QmpError.ErrorClass;
import org.jvisor.qmp.json.JsonStreamParser;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.qmp.json.JsonWriter;
import org.jvisor.sys.FdChannel;

/**
 * One client of a QMP monitor, from greeting to disconnect (qmp-spec.txt; QEMU's monitor/qmp.c):
 * the greeting, capabilities negotiation, commands with their id echoed, events once negotiated.
 *
 * <p>Threads: the calling thread reads and runs commands, one at a time, in order; a writer
 * thread of the session's own sends replies and events from a bounded queue. The machine's event
 * thread only offers to that queue, so a client that stops reading never holds up the machine or
 * the other monitors: when its queue is full it is disconnected.
 */
final class QmpSession implements JsonStreamParser.Listener {
    /** Replies and events waiting for a slow client; beyond this it is dropped. */
    private static final int MAX_QUEUED = 4096;
    private static final String END = new String("end of session");
    private static final Duration DRAIN = Duration.ofSeconds(5);

    private final ByteChannel channel;
    private final QmpService service;
    private final boolean pretty;
    private final Consumer<String> log;
    private final BlockingQueue<String> out = new ArrayBlockingQueue<>(MAX_QUEUED);
    /** Held while a command runs and its reply is queued: the end of jvisor waits for the reply to quit. */
    private final ReentrantLock commandLock = new ReentrantLock();
    private final JsonStreamParser parser = new JsonStreamParser(this);
    private volatile boolean commandMode;
    private volatile boolean ended;
    private volatile Thread writer;
    /** The monitor's descriptors: what this client passes goes there (closed with the session if its own). */
    private final MonitorFds fds;
    private final boolean ownFds;

    /** A session with descriptors of its own (closed when it ends). */
    QmpSession(ByteChannel channel, QmpService service, boolean pretty, Consumer<String> log) {
        this(channel, service, pretty, log, new MonitorFds(), true);
    }

    /** A client of a monitor whose named descriptors ({@code fds}) outlive the connection. */
    QmpSession(ByteChannel channel, QmpService service, boolean pretty, Consumer<String> log, MonitorFds fds) {
        this(channel, service, pretty, log, fds, false);
    }

    private QmpSession(ByteChannel channel, QmpService service, boolean pretty, Consumer<String> log, MonitorFds fds,
                       boolean ownFds) {
        this.channel = channel;
        this.service = service;
        this.pretty = pretty;
        this.log = log;
        this.fds = fds;
        this.ownFds = ownFds;
    }

    /** Serves the client until it disconnects or {@link #finish} ends the session; then closes the connection. */
    void run(String name) {
        writer = Thread.ofPlatform().daemon().name(name + " writer").start(this::writeLoop);
        AutoCloseable events = service.subscribe(e -> {
            if (commandMode) {
                send(e);
            }
        });
        try {
            send(JsonObject.builder().put("QMP", JsonObject.builder().put("version", service.version())
                .put("capabilities", JsonValue.JsonArray.EMPTY).build()).build());
            ByteBuffer buf = ByteBuffer.allocate(4096);
            while (!ended) {
                // a Unix socket of jvisor's own takes descriptors passed with the bytes (getfd's)
                int n = channel instanceof FdChannel fc ? fc.read(buf.clear(), fds::passed) : channel.read(buf.clear());
                if (n < 0 || !parser.feed(buf.array(), 0, n)) {
                    break;
                }
            }
        } catch (IOException e) {
            // a reset or closed connection ends the session like a disconnect
        } catch (RuntimeException e) {
            log.accept("QMP session ended by an internal error: " + e);
        } finally {
            closeQuietly(events);
            finish();
            awaitWriter();
            if (ownFds) {
                fds.close();
            } else {
                fds.disconnected();
            }
        }
    }

    /** Ends the session: what is queued (a reply to quit, SHUTDOWN) is still sent, then the connection closes. */
    void finish() {
        boolean locked = false;
        try {
            locked = commandLock.tryLock(DRAIN.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (!ended) {
                ended = true;
                if (!out.offer(END)) {
                    closeChannel();
                }
            }
        } finally {
            if (locked) {
                commandLock.unlock();
            }
        }
    }

    /** Waits (bounded) for the writer to send what is queued; a client that does not read is cut off. */
    void awaitWriter() {
        Thread w = writer;
        if (w == null) {
            return;             // not started: run() starts it, finds the session ended and waits itself
        }
        try {
            if (!w.join(DRAIN)) {
                closeChannel();
                w.join(DRAIN);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeChannel();
    }

    private void writeLoop() {
        try {
            while (true) {
                String text = out.take();
                if (text == END) {
                    break;
                }
                ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
                while (b.hasRemaining()) {
                    channel.write(b);
                }
            }
        } catch (IOException | InterruptedException e) {
            // the client went away: the reader sees it too
        }
        closeChannel();
    }

    private void closeQuietly(AutoCloseable subscription) {
        try {
            subscription.close();
        } catch (Exception e) {
            log.accept("QMP: ending the event subscription failed: " + e);
        }
    }

    private void closeChannel() {
        try {
            channel.close();
        } catch (IOException e) {
            // closing is all that was asked
        }
    }

    private void send(JsonObject message) {
        if (ended) {
            return;
        }
        String text = (pretty ? JsonWriter.pretty(message) : JsonWriter.compact(message)) + "\r\n";
        if (!out.offer(text)) {
            log.accept("a client that does not read its replies was disconnected (" + MAX_QUEUED + " messages queued)");
            ended = true;
            closeChannel();
        }
    }

    // ---- JsonStreamParser.Listener: on the reading thread ----------------------------------

    @Override
    public void error(String message) {
        send(error(null, ErrorClass.GenericError, message));
    }

    @Override
    public void value(JsonValue value) {
        commandLock.lock();
        try {
            if (!ended) {
                send(ScopedValue.where(FdCommands.CURRENT, fds).call(() -> dispatch(value)));
            }
        } finally {
            commandLock.unlock();
        }
    }

    /** One input value to its reply (qapi/qmp-dispatch.c: the checks in QEMU's order, its texts). */
    private JsonObject dispatch(JsonValue value) {
        if (!(value instanceof JsonObject request)) {
            return error(null, ErrorClass.GenericError, "QMP input must be a JSON object");
        }
        JsonValue id = request.members().get("id");
        JsonValue arguments = JsonObject.EMPTY;
        String name = null;
        for (var member : request.members().entrySet()) {
            switch (member.getKey()) {
                case "execute" -> {
                    if (!(member.getValue() instanceof JsonValue.JsonString s)) {
                        return error(id, ErrorClass.GenericError, "QMP input member 'execute' must be a string");
                    }
                    name = s.value();
                }
                case "arguments" -> {
                    if (!(member.getValue() instanceof JsonObject)) {
                        return error(id, ErrorClass.GenericError, "QMP input member 'arguments' must be an object");
                    }
                    arguments = member.getValue();
                }
                case "id" -> { }
                default -> {
                    return error(id, ErrorClass.GenericError, "QMP input member '" + member.getKey() + "' is unexpected");
                }
            }
        }
        if (name == null) {
            return error(id, ErrorClass.GenericError, "QMP input lacks member 'execute'");
        }
        try {
            JsonValue result = execute(name, (JsonObject) arguments);
            JsonObject.Builder reply = JsonObject.builder().put("return", result);
            if (id != null) {
                reply.put("id", id);
            }
            return reply.build();
        } catch (QmpError e) {
            return error(id, e.errorClass(), e.getMessage());
        } catch (RuntimeException e) {
            log.accept("internal error in " + name + ": " + e);
            return error(id, ErrorClass.GenericError, "internal error: " + e.getMessage());
        }
    }

    private JsonValue execute(String name, JsonObject arguments) throws QmpError {
        boolean negotiation = name.equals("qmp_capabilities");
        if (!commandMode && !negotiation) {
            throw new QmpError(ErrorClass.CommandNotFound, "Expecting capabilities negotiation with 'qmp_capabilities'");
        }
        if (commandMode && negotiation) {
            throw new QmpError(ErrorClass.CommandNotFound, "Capabilities negotiation is already complete, command ignored");
        }
        QmpCommandTable.Command c = service.commands().lookup(name);
        if (c == null) {
            throw new QmpError(ErrorClass.CommandNotFound, "The command " + name + " has not been found");
        }
        JsonValue result = service.commands().execute(c, arguments);
        if (negotiation) {
            enable(arguments);
            commandMode = true;
        }
        return result;
    }

    /** qmp_capabilities "enable": jvisor offers no capability (QEMU's only one, oob, is not implemented). */
    private static void enable(JsonObject arguments) throws QmpError {
        JsonValue enable = arguments.members().get("enable");
        if (enable instanceof JsonValue.JsonArray list) {
            for (int i = 0; i < list.elements().size(); i++) {
                JsonValue cap = list.elements().get(i);
                if (!(cap instanceof JsonValue.JsonString s)) {
                    throw QmpError.generic("Invalid parameter type for 'enable[" + i + "]', expected: string");
                }
                if (s.value().equals("oob")) {
                    throw QmpError.generic("Capability 'oob' not available");
                }
                throw QmpError.generic("Parameter 'enable[" + i + "]' does not accept value '" + s.value() + "'");
            }
        }
    }

    private static JsonObject error(JsonValue id, ErrorClass c, String desc) {
        JsonObject.Builder b = JsonObject.builder();
        if (id != null) {
            b.put("id", id);
        }
        return b.put("error", JsonObject.builder().put("class", c.name()).put("desc", desc).build()).build();
    }
}
