package org.jvisor.qmp.json;

import java.util.Arrays;

/**
 * Splits a byte stream into JSON values, as QMP reads its input (qmp-spec.txt 2.1: "a stream of
 * JSON values", not lines; QEMU's json-streamer.c). Values may span reads and several may share
 * one. Each value is framed by its brackets and quotes, then parsed by {@link JsonReader}.
 *
 * <p>Bad input costs the client, never the monitor: a value that does not parse gets one error,
 * and so does a stray byte; after an error inside a value the rest of it is skipped up to the
 * next line end or control byte (qmp-spec.txt 2.1 lets a client resynchronize with one, e.g.
 * 0xFF), so a garbled line yields one error rather than one per character. Nesting deeper than
 * {@code maxDepth} is an error (QEMU's limit is 1024); a value longer than {@code maxBytes}
 * ends the stream ({@link #feed} returns false): memory per connection stays bounded.
 *
 * <p>Not thread-safe: one reader thread feeds it.
 */
public final class JsonStreamParser {
    /** QEMU's MAX_NESTING (qobject/json-streamer.c). */
    public static final int DEFAULT_MAX_DEPTH = 1024;
    /** Far beyond any QMP command (QEMU allows 64 MiB tokens; a JVM heap is not that generous per connection). */
    public static final int DEFAULT_MAX_BYTES = 1 << 20;

    /** Where parsed values and errors go. */
    public interface Listener {
        void value(JsonValue value);

        /** {@code message} is QEMU's error text ("JSON parse error, ..."). */
        void error(String message);
    }

    private enum Mode { IDLE, VALUE, SCALAR, RECOVER, CLOSED }

    private final int maxBytes;
    private final int maxDepth;
    private final Listener listener;
    private byte[] buf = new byte[256];
    private int size;
    private Mode mode = Mode.IDLE;
    /** Open brackets of the current value, innermost last: '{' or '['. */
    private final byte[] open;
    private int depth;
    private int quote;          // the open string's quote character, 0 outside strings
    private boolean escape;

    public JsonStreamParser(Listener listener) {
        this(listener, DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH);
    }

    public JsonStreamParser(Listener listener, int maxBytes, int maxDepth) {
        this.listener = listener;
        this.maxBytes = maxBytes;
        this.maxDepth = maxDepth;
        this.open = new byte[maxDepth + 1];
    }

    /**
     * Takes {@code length} more bytes of the stream. Returns false once a value exceeded the size
     * limit (the listener got the error): nothing more is read, the caller should close.
     */
    public boolean feed(byte[] data, int offset, int length) {
        for (int i = offset; i < offset + length; i++) {
            if (!step(data[i] & 0xFF)) {
                return false;
            }
        }
        return mode != Mode.CLOSED;
    }

    /**
     * Bytes held for the value being read (the buffer's capacity, used or not): never more than
     * {@code maxBytes}, or 256 when that is smaller; 4 KiB at most between values.
     */
    public int heldBytes() {
        return buf.length;
    }

    /** Whether a value is partly read (the stream ended inside one). */
    public boolean inValue() {
        return mode == Mode.VALUE || mode == Mode.SCALAR;
    }

    private boolean step(int c) {
        switch (mode) {
            case CLOSED -> {
                return false;
            }
            case RECOVER -> {
                if (isResync(c)) {
                    mode = Mode.IDLE;
                }
                return true;
            }
            case IDLE -> {
                return idle(c);
            }
            case SCALAR -> {
                if (isWhitespace(c) || isResync(c) || c == '{' || c == '[' || c == '}' || c == ']'
                        || c == '"' || c == '\'' || c == ',' || c == ':') {
                    complete();
                    return idle(c);          // the delimiter belongs to what follows
                }
                return append(c);
            }
            case VALUE -> {
                return quote != 0 ? inString(c) : inStructure(c);
            }
        }
        return true;
    }

    private boolean idle(int c) {
        if (isWhitespace(c) || isResync(c)) {
            return true;
        }
        size = 0;
        depth = 0;
        quote = 0;
        escape = false;
        switch (c) {
            case '{', '[' -> {
                mode = Mode.VALUE;
                open[depth++] = (byte) c;
                return append(c);
            }
            case '"', '\'' -> {
                mode = Mode.VALUE;
                quote = c;
                return append(c);
            }
            case '}', ']', ',', ':' -> {
                listener.error("JSON parse error, expecting value");
                return true;
            }
            default -> {
                mode = Mode.SCALAR;
                return append(c);
            }
        }
    }

    private boolean inString(int c) {
        if (escape) {
            escape = false;
        } else if (c == '\\') {
            escape = true;
        } else if (c == quote) {
            quote = 0;
            if (!append(c)) {
                return false;
            }
            if (depth == 0) {
                complete();
            }
            return true;
        } else if (c < 0x20 || c >= 0xFE) {
            fail("JSON parse error, control character in string", c);
            return true;
        }
        return append(c);
    }

    private boolean inStructure(int c) {
        switch (c) {
            case '"', '\'' -> quote = c;
            case '{', '[' -> {
                if (depth == maxDepth) {
                    fail("JSON nesting depth limit exceeded", c);
                    return true;
                }
                open[depth++] = (byte) c;
            }
            case '}', ']' -> {
                int expected = open[depth - 1] == '{' ? '}' : ']';
                if (c != expected) {
                    fail("JSON parse error, expecting value", c);
                    return true;
                }
                depth--;
                if (!append(c)) {
                    return false;
                }
                if (depth == 0) {
                    complete();
                }
                return true;
            }
            default -> {
                if (c != '\t' && c != '\r' && c != '\n' && isResync(c)) {
                    fail("JSON parse error, invalid byte " + String.format("0x%02x", c) + " in a value", c);
                    return true;
                }
            }
        }
        return append(c);
    }

    /** An error inside a value: report it, skip to the next resynchronization point. */
    private void fail(String message, int c) {
        listener.error(message);
        mode = isResync(c) ? Mode.IDLE : Mode.RECOVER;
        shrink();
    }

    private boolean append(int c) {
        if (size == maxBytes) {
            listener.error("JSON parse error, a value longer than " + maxBytes + " bytes");
            mode = Mode.CLOSED;
            buf = new byte[0];
            return false;
        }
        if (size == buf.length) {
            buf = Arrays.copyOf(buf, Math.min(maxBytes, buf.length * 2));
        }
        buf[size++] = (byte) c;
        return true;
    }

    private void complete() {
        mode = Mode.IDLE;
        JsonValue v;
        try {
            v = JsonReader.parse(buf, 0, size, maxDepth);
        } catch (JsonParseException e) {
            shrink();
            listener.error(e.getMessage());
            return;
        }
        shrink();
        listener.value(v);
    }

    /** A large value's buffer is not kept once it is done. */
    private void shrink() {
        size = 0;
        if (buf.length > 4096) {
            buf = new byte[256];
        }
    }

    private static boolean isWhitespace(int c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
    }

    /** Where a client can force a fresh start (qmp-spec.txt 2.1): a control character other than tab, 0xFE or 0xFF. */
    private static boolean isResync(int c) {
        return (c < 0x20 && c != '\t') || c >= 0xFE;
    }
}
