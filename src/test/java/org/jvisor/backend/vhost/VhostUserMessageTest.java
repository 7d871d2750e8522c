package org.jvisor.backend.vhost;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import org.junit.jupiter.api.Test;

class VhostUserMessageTest {

    @Test
    void theHeaderIsThreeLittleEndianWords() {
        byte[] b = VhostUserMessage.request(VhostUserRequest.SET_FEATURES, VhostUserMessage.u64(0x1_0000_0002L)).encode();
        assertArrayEquals(new byte[] {2, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0}, b);
    }

    @Test
    void aMessageDecodesToWhatWasEncoded() throws Exception {
        VhostUserMessage m = new VhostUserMessage(VhostUserRequest.GET_VRING_BASE.code(),
            VhostUserMessage.VERSION | VhostUserMessage.FLAG_REPLY, new VhostUserMessage.VringState(3, 0x1234).encode());
        VhostUserMessage back = VhostUserMessage.decode(m.encode());
        assertEquals(m.request(), back.request());
        assertTrue(back.isReply());
        assertEquals(new VhostUserMessage.VringState(3, 0x1234), back.asVringState());
    }

    @Test
    void vringAddressesPutUsedBeforeAvail() {
        ByteBuffer b = ByteBuffer.wrap(new VhostUserMessage.VringAddress(1, 0, 0x1000, 0x2000, 0x3000, 0).encode())
            .order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(40, b.capacity());
        assertEquals(1, b.getInt(0));
        assertEquals(0x1000, b.getLong(8));
        assertEquals(0x2000, b.getLong(16), "used ring");
        assertEquals(0x3000, b.getLong(24), "avail ring");
    }

    @Test
    void aMemoryTableIsACountPaddingAndFourWordsPerRegion() {
        byte[] t = VhostUserMessage.memoryTable(List.of(new VhostUserMessage.MemoryRegion(0, 0xC000_0000L, 0x7f00_0000_0000L, 0),
            new VhostUserMessage.MemoryRegion(0x1_0000_0000L, 0x4000_0000L, 0x7f00_c000_0000L, 0xC000_0000L)));
        ByteBuffer b = ByteBuffer.wrap(t).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(8 + 64, t.length);
        assertEquals(2, b.getInt(0));
        assertEquals(0x1_0000_0000L, b.getLong(8 + 32));
        assertEquals(0x7f00_c000_0000L, b.getLong(8 + 32 + 16));
        assertEquals(0xC000_0000L, b.getLong(8 + 32 + 24), "mmap offset of the high region");
        assertThrows(IllegalArgumentException.class, () -> VhostUserMessage.memoryTable(List.of()));
    }

    @Test
    void anOversizedSizeFieldIsRefusedFromTheHeaderAlone() {
        byte[] h = {1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0x40};
        VhostUserException e = assertThrows(VhostUserException.class, () -> VhostUserMessage.decodeHeader(h));
        assertTrue(e.getMessage().contains("exceeds the maximum"), e.getMessage());
        byte[] negative = {1, 0, 0, 0, 5, 0, 0, 0, -1, -1, -1, -1};
        assertTrue(assertThrows(VhostUserException.class, () -> VhostUserMessage.decodeHeader(negative)).getMessage()
            .contains("4294967295"));
    }

    @Test
    void anotherProtocolVersionIsRefused() {
        byte[] h = {1, 0, 0, 0, 6, 0, 0, 0, 8, 0, 0, 0};
        assertTrue(assertThrows(VhostUserException.class, () -> VhostUserMessage.decodeHeader(h)).getMessage()
            .contains("protocol version 2"));
    }

    @Test
    void aConfigWhoseSizeFieldDisagreesWithItsPayloadIsRefused() throws Exception {
        byte[] good = new VhostUserMessage.Config(0, 0, new byte[60]).encode();
        assertEquals(60, new VhostUserMessage(24, 5, good).asConfig().data().length);
        byte[] lying = good.clone();
        lying[4] = 100;
        VhostUserException e = assertThrows(VhostUserException.class, () -> new VhostUserMessage(24, 5, lying).asConfig());
        assertTrue(e.getMessage().contains("does not match"), e.getMessage());
        assertThrows(VhostUserException.class, () -> new VhostUserMessage(24, 5, new byte[4]).asConfig());
    }

    @Test
    void aU64ReplyOfTheWrongLengthIsRefused() {
        VhostUserException e = assertThrows(VhostUserException.class, () -> new VhostUserMessage(1, 5, new byte[4]).asU64());
        assertTrue(e.getMessage().contains("GET_FEATURES") && e.getMessage().contains("4 bytes"), e.getMessage());
    }

    @Test
    void aWholeMessageMustHoldExactlyItsPayload() {
        byte[] m = VhostUserMessage.request(VhostUserRequest.GET_FEATURES, new byte[8]).encode();
        byte[] shorter = java.util.Arrays.copyOf(m, m.length - 1);
        assertThrows(VhostUserException.class, () -> VhostUserMessage.decode(shorter));
    }
}
