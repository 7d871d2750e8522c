package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.qmp.json.JsonParseException;
import org.jvisor.qmp.json.JsonReader;
import org.jvisor.qmp.json.JsonStreamParser;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonWriter;

/**
 * Fuzzes what a QMP or control-socket client can send: the byte stream (split into reads at
 * arbitrary points) through the streaming parser. Invariants: no exception escapes; the bytes the
 * parser holds never exceed its limit (max(256, maxBytes), see {@link JsonStreamParser#heldBytes});
 * a rejected value yields one of QEMU's error texts ("JSON parse error, ..." or the nesting
 * limit's), which the session sends as {"error":{"class":"GenericError","desc":TEXT}}
 * ({@link QmpDispatchFuzzTest} checks the replies); an accepted value, written out, reads back
 * to a value written the same; after a value longer than the limit the parser reads nothing more.
 */
class QmpInputFuzzTest {
    private static final int MAX_BYTES = 4096;
    private static final int MAX_DEPTH = 64;

    @FuzzTest(maxDuration = "60s")
    void stream(FuzzedDataProvider data) throws JsonParseException {
        List<JsonValue> values = new ArrayList<>();
        JsonStreamParser parser = new JsonStreamParser(new JsonStreamParser.Listener() {
            @Override
            public void value(JsonValue value) {
                values.add(value);
            }

            @Override
            public void error(String message) {
                assertTrue(message.startsWith("JSON parse error, ") || message.equals("JSON nesting depth limit exceeded"),
                    "not a QEMU parse error: " + message);
            }
        }, MAX_BYTES, MAX_DEPTH);
        boolean open = true;
        while (data.remainingBytes() > 0) {
            byte[] chunk = data.consumeBytes(data.consumeInt(1, 512));
            boolean accepted = parser.feed(chunk, 0, chunk.length);
            assertTrue(open || !accepted, "the parser read on after closing");
            open &= accepted;
            assertTrue(parser.heldBytes() <= Math.max(256, MAX_BYTES), parser.heldBytes() + " bytes held");
        }
        // written out and read back, a value writes out the same (a number may change kind: 9.79e10,
        // a double, is written 97900000000 as QEMU's %.17g does, and reads back as an integer)
        for (JsonValue v : values) {
            String text = JsonWriter.compact(v);
            assertEquals(JsonWriter.compact(asReadBack(v)), JsonWriter.compact(JsonReader.parse(text)), "re-read of " + text);
        }
    }

    /**
     * {@code v} as its written form reads back: a negative zero (-0E20 is one) is written "-0", as
     * QEMU's %.17g writes it, and "-0" is the integer 0 to QEMU's parser and to jvisor's (an
     * integer has no negative zero), so it comes back as 0. Every other value reads back as itself.
     */
    private static JsonValue asReadBack(JsonValue v) {
        return switch (v) {
            case JsonValue.JsonDouble d when d.value() == 0 && Double.doubleToRawLongBits(d.value()) != 0 -> new JsonValue.JsonInt(0);
            case JsonValue.JsonArray a -> new JsonValue.JsonArray(a.elements().stream().map(QmpInputFuzzTest::asReadBack).toList());
            case JsonValue.JsonObject o -> {
                java.util.Map<String, JsonValue> m = new java.util.LinkedHashMap<>();
                o.members().forEach((k, x) -> m.put(k, asReadBack(x)));
                yield new JsonValue.JsonObject(m);
            }
            default -> v;
        };
    }
}
