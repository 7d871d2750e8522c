package org.jvisor.gdb;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** The client side of the protocol for tests: raw bytes out, packets and acks in. */
final class RspClient {
    private final InputStream in;
    private final OutputStream out;

    RspClient(InputStream in, OutputStream out) {
        this.in = in;
        this.out = out;
    }

    void raw(String bytes) throws IOException {
        out.write(bytes.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /** {@code $data#cc} with the right checksum (no escaping: the caller escapes). */
    static String frame(String data) {
        int sum = 0;
        for (byte b : data.getBytes(StandardCharsets.ISO_8859_1)) {
            sum += b & 0xFF;
        }
        return "$" + data + "#" + String.format("%02x", sum & 0xFF);
    }

    /** Sends a packet, expects '+', and returns the reply's data (acked). */
    String ask(String data) throws IOException {
        raw(frame(data));
        int ack = in.read();
        if (ack != '+') {
            throw new IOException("expected '+', got " + ack);
        }
        return reply();
    }

    /** The next packet's data, checked and acked '+'. */
    String reply() throws IOException {
        int c;
        while ((c = in.read()) != '$') {
            if (c < 0) {
                throw new IOException("connection closed");
            }
        }
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int sum = 0;
        while ((c = in.read()) != '#') {
            if (c < 0) {
                throw new IOException("connection closed in a packet");
            }
            sum += c;
            b.write(c);
        }
        int cs = Integer.parseInt("" + (char) in.read() + (char) in.read(), 16);
        if (cs != (sum & 0xFF)) {
            throw new IOException("bad checksum from the stub");
        }
        try {
            raw("+");
        } catch (IOException e) {
            // the stub closed after its last reply (W00 of a kill)
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    int read() throws IOException {
        return in.read();
    }
}
