package org.jvisor.gdb;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The framing layer over a connected UNIX socket pair: checksums, acks, escapes, interrupts, garbage. */
class RspChannelTest {
    private Path dir;
    private SocketChannel clientSide, stubSide;
    private RspChannel channel;
    private RspClient client;

    @BeforeEach
    void connect() throws IOException {
        dir = Files.createTempDirectory("rsp");
        Path sock = dir.resolve("s");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            clientSide = SocketChannel.open(UnixDomainSocketAddress.of(sock));
            stubSide = server.accept();
        }
        channel = new RspChannel(Channels.newInputStream(stubSide), Channels.newOutputStream(stubSide), stubSide);
        client = new RspClient(Channels.newInputStream(clientSide), Channels.newOutputStream(clientSide));
    }

    @AfterEach
    void close() throws IOException {
        channel.close();
        clientSide.close();
        Files.deleteIfExists(dir.resolve("s"));
        Files.delete(dir);
    }

    private String nextPacket() throws IOException {
        RspChannel.Received r = channel.receive();
        return assertInstanceOf(RspChannel.Packet.class, r).text();
    }

    @Test
    void aGoodPacketIsAckedAndDelivered() throws IOException {
        client.raw(RspClient.frame("qSupported:multiprocess+"));
        assertEquals("qSupported:multiprocess+", nextPacket());
        assertEquals('+', client.read());
    }

    @Test
    void aBadChecksumIsAnsweredMinusAndDropped() throws IOException {
        client.raw("$g#00");
        client.raw(RspClient.frame("?"));
        assertEquals("?", nextPacket());
        assertEquals('-', client.read());
        assertEquals('+', client.read());
    }

    @Test
    void checksumDigitsThatAreNotHexAreABadChecksum() throws IOException {
        client.raw("$g#zz");
        client.raw(RspClient.frame("g"));
        assertEquals("g", nextPacket());
        assertEquals('-', client.read());
    }

    @Test
    void noiseBetweenPacketsAndStrayAcksAreSkipped() throws IOException {
        client.raw("+++hello\r\n" + RspClient.frame("qC"));
        assertEquals("qC", nextPacket());
    }

    @Test
    void aLoneCtrlCIsAnInterrupt() throws IOException {
        client.raw("\u0003");
        assertInstanceOf(RspChannel.Interrupt.class, channel.receive());
    }

    @Test
    void aPacketCutShortByANewOneIsForgotten() throws IOException {
        client.raw("$m100" + RspClient.frame("qC"));
        assertEquals("qC", nextPacket());
    }

    @Test
    void escapedBinaryDataIsUndone() throws IOException {
        // X with the bytes '#', '$', '}' and '*' escaped as 0x7d, byte ^ 0x20 (GDB manual, E.1)
        String data = "X100,4:}\u0003}\u0004}]}\n";
        client.raw(RspClient.frame(data));
        byte[] got = assertInstanceOf(RspChannel.Packet.class, channel.receive()).data();
        byte[] want = "X100,4:#$}*".getBytes(StandardCharsets.ISO_8859_1);
        assertArrayEquals(want, got);
    }

    @Test
    void repliesAreFramedWithTheirChecksumAndEscaped() throws IOException {
        channel.send("OK");
        assertEquals("$OK#9a", readRaw(6));
        channel.send(new byte[] {'l', '#', '*'});
        assertEquals("$l}\u0003}\n#" + String.format("%02x", ('l' + '}' + 0x03 + '}' + 0x0A) & 0xFF), readRaw(9));
    }

    @Test
    void aMinusGetsTheLastReplyAgain() throws IOException {
        channel.send("T05thread:01;");
        String first = readRaw(RspClient.frame("T05thread:01;").length());
        client.raw("-" + RspClient.frame("?"));
        assertEquals("?", nextPacket());  // the '-' made it resend on the way
        assertEquals(first, readRaw(first.length()));
    }

    @Test
    void withoutAcksNothingIsAckedAndAMinusIsIgnored() throws IOException {
        channel.disableAcks();
        client.raw("$g#00-" + RspClient.frame("?"));
        assertEquals("?", nextPacket());
        channel.send("OK");
        assertEquals("$OK#9a", readRaw(6));   // no '+' or '-' before it
    }

    @Test
    void aPacketLongerThanTheLimitIsRefused() throws IOException {
        String huge = "M0," + "0".repeat(RspChannel.MAX_PACKET + 10);
        client.raw(RspClient.frame(huge) + RspClient.frame("g"));
        assertEquals("g", nextPacket());
        assertEquals('-', client.read());
    }

    @Test
    void theEndOfTheStreamEndsReceiving() throws IOException {
        clientSide.close();
        assertNull(channel.receive());
    }

    private String readRaw(int n) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append((char) client.read());
        }
        return b.toString();
    }
}
