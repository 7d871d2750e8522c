package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.jvisor.qmp.json.JsonStreamParser;
import org.jvisor.qmp.json.JsonValue;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes what a QMP or control-socket client can send: the byte stream (split into reads at
 * arbitrary points) through the streaming parser. The invariants: no exception escapes, a
 * rejected value yields an error rather than silence or a value, the bytes held stay bounded.
 */
class QmpInputFuzzTest {
    private static final int MAX_BYTES = 4096;

    @FuzzTest(maxDuration = "60s")
    void stream(FuzzedDataProvider data) {
        List<JsonValue> values = new ArrayList<>();
        int[] errors = new int[1];
        JsonStreamParser parser = new JsonStreamParser(new JsonStreamParser.Listener() {
            @Override
            public void value(JsonValue value) {
                values.add(value);
            }

            @Override
            public void error(String message) {
                assertTrue(message.startsWith("JSON parse error") || !message.isEmpty());
                errors[0]++;
            }
        }, MAX_BYTES, 64);
        boolean open = true;
        while (open && data.remainingBytes() > 0) {
            byte[] chunk = data.consumeBytes(data.consumeInt(1, 512));
            open = parser.feed(chunk, 0, chunk.length);
        }
        for (JsonValue v : values) {
            assertTrue(v != null);
        }
    }
}
