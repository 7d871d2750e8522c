package org.jvisor.qmp.json;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Output exactly as QEMU 7.2 writes it (captured from qemu-system-x86_64 with socat). */
class JsonWriterTest {

    @Test
    void compactIsQemusOneLineForm() throws Exception {
        JsonValue v = JsonReader.parse("{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}, \"id\": [1, {}]}");
        assertEquals("{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}, \"id\": [1, {}]}",
            JsonWriter.compact(v));
    }

    @Test
    void prettyIsFourSpacesAndCrlf() throws Exception {
        assertEquals("{\r\n    \"return\": {\r\n    }\r\n}", JsonWriter.pretty(JsonReader.parse("{\"return\":{}}")));
        assertEquals("{\r\n    \"capabilities\": [\r\n        \"oob\"\r\n    ]\r\n}",
            JsonWriter.pretty(JsonReader.parse("{\"capabilities\":[\"oob\"]}")));
    }

    @Test
    void stringsEscapeEverythingOutsidePrintableAscii() {
        assertEquals("\"/\\b\\f\\n\\r\\t\\\"\\\\\\u007F\\u00E9\\uD83D\\uDE00\\u0001\"",
            JsonWriter.compact(new JsonValue.JsonString("/\b\f\n\r\t\"\\\u007f\u00e9\ud83d\ude00\u0001")));
    }

    @Test
    void doublesAsPercent17g() {
        assertEquals("1.5", JsonWriter.formatDouble(1.5));
        assertEquals("1", JsonWriter.formatDouble(1.0));
        assertEquals("-500", JsonWriter.formatDouble(-500.0));
        assertEquals("0.10000000000000001", JsonWriter.formatDouble(0.1));
        assertEquals("9.9999999999999995e-08", JsonWriter.formatDouble(1e-7));
        assertEquals("1.2345678901234568e+22", JsonWriter.formatDouble(1.2345678901234568e22));
        assertEquals("1e+17", JsonWriter.formatDouble(1e17));
        assertEquals("12345678901234568", JsonWriter.formatDouble(12345678901234567.0));
        assertEquals("0.0001", JsonWriter.formatDouble(1e-4));
        assertEquals("-0", JsonWriter.formatDouble(-0.0));
    }
}
