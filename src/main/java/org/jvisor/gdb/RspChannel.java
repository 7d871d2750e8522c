package org.jvisor.gdb;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The framing of the Remote Serial Protocol (GDB manual, E.1 "Overview"): a packet is
 * {@code $data#cc}, cc the modulo-256 sum of data's bytes in two hex digits; the receiver answers
 * {@code +} (good) or {@code -} (send it again) until QStartNoAckMode turns acks off; binary data
 * escapes {@code # $ } *} as {@code 0x7d, byte ^ 0x20}; a lone 0x03 between packets is an interrupt
 * (Ctrl-C). One thread receives, any thread sends. Anything that is not a packet is skipped, a
 * packet with a bad checksum or too long is answered {@code -} and dropped, so that a confused or
 * hostile client cannot get past this layer.
 */
final class RspChannel implements AutoCloseable {
    /** The longest packet data accepted; gdb keeps within the PacketSize we announce (4096). */
    static final int MAX_PACKET = 16 * 1024;
    static final int INTERRUPT = 0x03;

    /** What the client sent: a packet's data (escapes undone), or an interrupt. */
    sealed interface Received {
    }

    record Packet(byte[] data) implements Received {
        String text() {
            return new String(data, StandardCharsets.ISO_8859_1);
        }
    }

    record Interrupt() implements Received {
    }

    private final InputStream in;
    private final OutputStream out;
    private final AutoCloseable transport;
    private volatile boolean acks = true;
    /** The last packet sent, framed, for a '-' from the client; guarded by this. */
    private byte[] lastSent;

    RspChannel(InputStream in, OutputStream out, AutoCloseable transport) {
        this.in = in;
        this.out = out;
        this.transport = transport;
    }

    /** QStartNoAckMode: from the next packet on, neither side sends '+' or '-'. */
    void disableAcks() {
        acks = false;
    }

    boolean acks() {
        return acks;
    }

    /** The next packet or interrupt, or null at the end of the stream. Receiving thread only. */
    Received receive() throws IOException {
        while (true) {
            int c = in.read();
            switch (c) {
                case -1 -> {
                    return null;
                }
                case '$' -> {
                    Packet p = readPacket();
                    if (p != null) {
                        return p;
                    }
                }
                case INTERRUPT -> {
                    return new Interrupt();
                }
                case '-' -> resend();
                default -> {
                    // '+' for what we sent, or noise between packets
                }
            }
        }
    }

    /** After '$': the data up to '#', then the checksum; null when it was answered '-'. */
    private Packet readPacket() throws IOException {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        int sum = 0;
        boolean tooLong = false;
        boolean escaped = false;
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new EOFException("the connection ended inside a packet");
            }
            if (c == '#') {
                break;
            }
            if (c == '$') {
                // a packet cut short by a new one: gdb gave up on the first, start again
                data.reset();
                sum = 0;
                tooLong = false;
                escaped = false;
                continue;
            }
            sum += c;
            if (data.size() >= MAX_PACKET) {
                tooLong = true;
            } else if (escaped) {
                data.write(c ^ 0x20);
                escaped = false;
            } else if (c == '}') {
                escaped = true;
            } else {
                data.write(c);
            }
        }
        int hi = Character.digit(readByte(), 16), lo = Character.digit(readByte(), 16);
        if (hi < 0 || lo < 0 || (hi << 4 | lo) != (sum & 0xFF) || tooLong || escaped) {
            ack('-');
            return null;
        }
        ack('+');
        return new Packet(data.toByteArray());
    }

    private int readByte() throws IOException {
        int c = in.read();
        if (c < 0) {
            throw new EOFException("the connection ended inside a packet's checksum");
        }
        return c;
    }

    private void ack(char c) throws IOException {
        if (acks) {
            synchronized (this) {
                out.write(c);
                out.flush();
            }
        }
    }

    private synchronized void resend() throws IOException {
        if (acks && lastSent != null) {
            out.write(lastSent);
            out.flush();
        }
    }

    /** Sends {@code text} as one packet. */
    void send(String text) throws IOException {
        send(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Sends {@code data} as one packet, escaping what must be. */
    synchronized void send(byte[] data) throws IOException {
        ByteArrayOutputStream f = new ByteArrayOutputStream(data.length + 4);
        f.write('$');
        int sum = 0;
        for (byte b : data) {
            int c = b & 0xFF;
            if (c == '$' || c == '#' || c == '}' || c == '*') {
                f.write('}');
                sum += '}';
                c ^= 0x20;
            }
            f.write(c);
            sum += c;
        }
        f.write('#');
        f.write(Character.forDigit(sum >> 4 & 0xF, 16));
        f.write(Character.forDigit(sum & 0xF, 16));
        byte[] framed = f.toByteArray();
        lastSent = framed;
        out.write(framed);
        out.flush();
    }

    @Override
    public void close() {
        try {
            transport.close();
        } catch (Exception e) {
            // closing a socket that is gone already
        }
    }
}
