package org.jvisor.devices.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

/**
 * The generic record encoding of snapshot files: every kind of component comes back equal, and
 * input that is truncated, corrupted, of another layout version or naming a foreign class is
 * refused with a {@link DeviceStateException} that says what and where, never another exception.
 */
class StateCodecTest {

    public enum Mode { IDLE, BUSY }

    public record Inner(int a, Optional<String> label) {
    }

    public record Sample(boolean flag, byte b, short s, char c, int i, long l, float f, double d, Mode mode, String text,
                         String missing, Bytes bytes, List<Integer> ints, List<Inner> inners, Inner inner,
                         Optional<Long> some, Optional<Long> none, DeviceState nested, DeviceState absent)
            implements DeviceState {
        public static final int VERSION = 3;

        @Override
        public int version() {
            return VERSION;
        }
    }

    public record Leaf(long value) implements DeviceState {
        public static final int VERSION = 1;

        public Leaf {
            if (value < 0) {
                throw new IllegalArgumentException("value " + value + " is negative");
            }
        }

        @Override
        public int version() {
            return VERSION;
        }
    }

    static Sample sample() {
        return new Sample(true, (byte) -3, (short) 0x1234, 'ü', -7, Long.MIN_VALUE, 1.5f, Math.PI, Mode.BUSY,
            "grüß dich", null, Bytes.copyOf(new byte[] {1, 2, 3, (byte) 0xFF}), List.of(1, -2, 3),
            List.of(new Inner(1, Optional.of("one")), new Inner(2, Optional.empty())), new Inner(9, Optional.empty()),
            Optional.of(42L), Optional.empty(), new Leaf(77), null);
    }

    static byte[] encoded() {
        return new StateEncoder().writeState(sample()).writeState(new Leaf(5)).toByteArray();
    }

    @Test
    void everyKindOfComponentComesBackEqual() throws DeviceStateException {
        StateDecoder d = new StateDecoder(encoded(), "test");
        assertEquals(sample(), d.readState());
        assertEquals(new Leaf(5), d.readState(), "a type defined earlier in the stream is referenced, not repeated");
        d.expectEnd();
    }

    @Test
    void everyTruncationIsRefusedWithAMessage() {
        byte[] full = encoded();
        for (int n = 0; n < full.length; n++) {
            byte[] cut = Arrays.copyOf(full, n);
            DeviceStateException e = assertThrows(DeviceStateException.class, () -> {
                StateDecoder d = new StateDecoder(cut, "section DEVS");
                d.readState();
                d.readState();
            }, "cut at " + n);
            assertTrue(e.getMessage().startsWith("section DEVS"), e.getMessage());
            assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("corrupt"), e.getMessage());
        }
    }

    @Test
    void anyCorruptedByteGivesAValueOrAClearRefusalNeverAnotherException() {
        byte[] full = encoded();
        for (int at = 0; at < full.length; at++) {
            for (int bit : new int[] {0x01, 0x80, 0xFF}) {
                byte[] bad = full.clone();
                bad[at] ^= (byte) bit;
                try {
                    StateDecoder d = new StateDecoder(bad, "test");
                    d.readState();
                    d.readState();
                } catch (DeviceStateException e) {
                    assertNotNull(e.getMessage());
                    assertTrue(e.getMessage().startsWith("test"), e.getMessage());
                } catch (RuntimeException | OutOfMemoryError e) {
                    throw new AssertionError("byte " + at + " ^ " + bit + " gave " + e, e);
                }
            }
        }
    }

    /** Where the first type definition's version is: after the presence byte, the type id and the class name. */
    private static int versionOffset(byte[] data) {
        ByteBuffer b = ByteBuffer.wrap(data);
        b.get();        // presence
        b.getInt();     // type id 0
        b.get();        // the name's presence
        int len = b.getInt();
        return b.position() + len;
    }

    @Test
    void aRecordOfAnotherVersionIsRefusedNamingBothVersions() {
        byte[] data = encoded();
        ByteBuffer.wrap(data).putInt(versionOffset(data), 2);
        DeviceStateException e = assertThrows(DeviceStateException.class,
            () -> new StateDecoder(data, "section DEVS").readState());
        assertEquals("section DEVS: the state holds StateCodecTest.Sample version 2; this jvisor reads version 3",
            e.getMessage());
    }

    @Test
    void aChangedLayoutWithTheSameVersionIsRefusedNamingTheComponents() {
        byte[] data = encoded();
        String text = new String(data, StandardCharsets.ISO_8859_1).replaceFirst("inners", "others");
        DeviceStateException e = assertThrows(DeviceStateException.class,
            () -> new StateDecoder(text.getBytes(StandardCharsets.ISO_8859_1), "t").readState());
        assertTrue(e.getMessage().contains("List<StateCodecTest.Inner> others") && e.getMessage().contains("inners"),
            e.getMessage());
    }

    @Test
    void onlyJvisorsOwnRecordsAreBuiltAndTheirConstructorsStillCheck() {
        byte[] data = new StateEncoder().writeState(new Leaf(5)).toByteArray();
        String text = new String(data, StandardCharsets.ISO_8859_1).replace("org.jvisor.", "javax.util.");
        DeviceStateException e = assertThrows(DeviceStateException.class,
            () -> new StateDecoder(text.getBytes(StandardCharsets.ISO_8859_1), "t").readState());
        assertTrue(e.getMessage().contains("not jvisor's"), e.getMessage());

        byte[] negative = data.clone();
        ByteBuffer.wrap(negative).putLong(negative.length - 8, -1);
        e = assertThrows(DeviceStateException.class, () -> new StateDecoder(negative, "t").readState());
        assertTrue(e.getMessage().contains("value -1 is negative"), e.getMessage());
    }

    @Test
    void aRecordWhereAnotherBelongsIsRefused() {
        byte[] data = new StateEncoder().write(Leaf.class, new Leaf(1)).toByteArray();
        DeviceStateException e = assertThrows(DeviceStateException.class,
            () -> new StateDecoder(data, "t").read(Sample.class));
        assertTrue(e.getMessage().contains("a Leaf stands where a Sample belongs"), e.getMessage());
    }
}
