package org.jvisor.qmp.json;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The QMP input framer and parser, fed as a socket would: partial reads, several values per read, garbage. */
class JsonStreamParserTest {

    /** What the listener heard, values in QEMU's compact form, errors as "ERR message". */
    private static final class Heard implements JsonStreamParser.Listener {
        final List<String> items = new ArrayList<>();

        @Override
        public void value(JsonValue value) {
            items.add(JsonWriter.compact(value));
        }

        @Override
        public void error(String message) {
            items.add("ERR " + message);
        }
    }

    private static List<String> feed(String text) {
        Heard h = new Heard();
        JsonStreamParser p = new JsonStreamParser(h);
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        p.feed(b, 0, b.length);
        return h.items;
    }

    @Test
    void valuesAreAStreamNotLines() {
        assertEquals(List.of("{\"a\": 1}", "[1, 2]", "{\"b\": {\"c\": []}}"),
            feed("{\"a\":1}[1,2]  {\"b\"\n:\n{\"c\":[]}}"));
    }

    @Test
    void aValueSplitAcrossReadsIsReadWhole() {
        Heard h = new Heard();
        JsonStreamParser p = new JsonStreamParser(h);
        byte[] b = "{\"execute\": \"query-status\", \"id\": \"\\u00e9\u20ac\"}".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i++) {
            assertTrue(p.feed(b, i, 1));
            if (i < b.length - 1) {
                assertTrue(h.items.isEmpty());
                assertTrue(p.inValue());
            }
        }
        assertEquals(List.of("{\"execute\": \"query-status\", \"id\": \"\\u00E9\\u20AC\"}"), h.items);
    }

    @Test
    void singleQuotedStringsAsQemuAcceptsThem() {
        assertEquals(List.of("{\"execute\": \"it's \\\"x\\\"\"}"), feed("{'execute': 'it\\'s \"x\"'}"));
    }

    @Test
    void unicodeEscapesIncludingSurrogatePairs() {
        assertEquals(List.of("\"\\u00E9\\uD83D\\uDE00x\\u0000/\""), feed("\"\\u00e9\\ud83d\\ude00x\\u0000\\/\""));
        assertEquals(List.of("ERR JSON parse error, \\uZZZZ is not a valid Unicode character"), feed("\"\\uZZZZ\""));
        assertEquals(List.of("ERR JSON parse error, \\uD83D is not a valid Unicode character"), feed("\"\\ud83dx\""));
        assertEquals(List.of("ERR JSON parse error, invalid UTF-8 sequence in string"),
            feedBytes(new byte[] {'"', (byte) 0xC3, '(', '"'}));
        assertEquals(List.of("ERR JSON parse error, invalid UTF-8 sequence in string"),
            feedBytes(new byte[] {'"', (byte) 0xC0, (byte) 0x80, '"'}));   // overlong NUL
    }

    private static List<String> feedBytes(byte[] b) {
        Heard h = new Heard();
        new JsonStreamParser(h).feed(b, 0, b.length);
        return h.items;
    }

    @Test
    void numbersKeepQemusIntegerDoubleSplit() {
        assertEquals(List.of("[0, -1, 9223372036854775807, 1.8446744073709552e+19, 1.5, 100, -500, 0.10000000000000001, 9.9999999999999995e-08, 1]"),
            feed("[-0, -1, 9223372036854775807, 18446744073709551616, 1.5, 1E2, -0.5e3, 0.1, 1e-7, 1.0]"));
        assertEquals(List.of("ERR JSON parse error, stray '01'"), feed("[01]"));
        assertEquals(List.of("ERR JSON parse error, number out of range '1e400'"), feed("[1e400]"));
    }

    @Test
    void garbageGetsOneErrorAndTheNextLineIsRead() {
        assertEquals(List.of("ERR JSON parse error, invalid keyword 'garbage'", "{\"ok\": 1}"),
            feed("garbage\n{\"ok\":1}"));
        assertEquals(List.of("ERR JSON parse error, expecting value", "{\"ok\": 2}"), feed("}\n{\"ok\":2}"));
        assertEquals(List.of("ERR JSON parse error, expected separator in dict", "{\"ok\": 3}"),
            feed("{\"a\":1 \"b\":2}\n{\"ok\":3}"));
        assertEquals(List.of("ERR JSON parse error, missing : in object pair"), feed("{\"a\" \"b\"}"));
        assertEquals(List.of("ERR JSON parse error, duplicate key", "{\"ok\": 4}"), feed("{\"a\":1,\"a\":2}{\"ok\":4}"));
        assertEquals(List.of("ERR JSON parse error, expecting value", "{\"ok\": 5}"), feed("{\"a\":[1}, \"b\": 2}\n{\"ok\":5}"));
        assertEquals(List.of("ERR JSON parse error, control character in string", "{\"ok\": 6}"),
            feed("{\"a\":\"tab\tin\"}\n{\"ok\":6}"));
        assertEquals(List.of("ERR JSON parse error, key is not a string in object", "{\"ok\": 7}"), feed("{1:2}{\"ok\":7}"));
        assertEquals(List.of("ERR JSON parse error, invalid keyword 'tru'"), feed("[tru]"));
    }

    @Test
    void aByte0xffResynchronizesMidValue() {
        byte[] in = "{\"a\": [1, 2".getBytes(StandardCharsets.US_ASCII);
        byte[] more = "{\"ok\":1}".getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[in.length + 1 + more.length];
        System.arraycopy(in, 0, all, 0, in.length);
        all[in.length] = (byte) 0xFF;
        System.arraycopy(more, 0, all, in.length + 1, more.length);
        assertEquals(List.of("ERR JSON parse error, invalid byte 0xff in a value", "{\"ok\": 1}"), feedBytes(all));
    }

    @Test
    void nestingIsBoundedAndTheStreamGoesOn() {
        String deep = "[".repeat(1025) + "]".repeat(1025);
        assertEquals(List.of("ERR JSON nesting depth limit exceeded", "{\"ok\": 1}"), feed(deep + "\n{\"ok\":1}"));
        String fine = "[".repeat(1024) + "]".repeat(1024);
        assertEquals(1, feed(fine).size());
        assertFalse(feed(fine).get(0).startsWith("ERR"));
    }

    @Test
    void anOversizedValueEndsTheStream() {
        Heard h = new Heard();
        JsonStreamParser p = new JsonStreamParser(h, 1000, 16);
        byte[] big = ("{\"id\": \"" + "x".repeat(2000) + "\"}{\"ok\":1}").getBytes(StandardCharsets.US_ASCII);
        assertFalse(p.feed(big, 0, big.length));
        assertEquals(List.of("ERR JSON parse error, a value longer than 1000 bytes"), h.items);
        assertFalse(p.feed(new byte[] {'1', ' '}, 0, 2));
        assertEquals(1, h.items.size());
    }

    @Test
    void aTopLevelScalarEndsAtItsDelimiter() {
        assertEquals(List.of("12", "\"s\"", "true", "null"), feed("12 \"s\"true null\n"));
        assertEquals(List.of(), feed("12"));            // may go on: 123...
    }

    private static final String ALPHABET = "{}[]\"':,\\ ntrufalse0123456789.eE-+u\n\u00ff\u00c3";

    @Test
    void randomBytesNeverThrow() {
        java.util.Random r = new java.util.Random(42);
        for (int round = 0; round < 2000; round++) {
            byte[] b = new byte[r.nextInt(200)];
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) ALPHABET.charAt(r.nextInt(ALPHABET.length()));
            }
            Heard h = new Heard();
            JsonStreamParser p = new JsonStreamParser(h, 100, 8);
            p.feed(b, 0, b.length);
            p.feed("\n{\"ok\":1}".getBytes(StandardCharsets.US_ASCII), 0, 9);
        }
    }
}
