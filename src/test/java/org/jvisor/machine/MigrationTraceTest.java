package org.jvisor.machine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MigrationTraceTest {

    @Test
    void onItPrintsOneLineOfThePhasesInOrderOnce() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        MigrationTrace t = MigrationTrace.of(true, log, "source");
        assertTrue(t.on());
        t.phase("pass-1", "12 pages");
        t.moment("stop");
        t.phase("stop-vcpus");
        t.print();
        t.print();
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(out.matches("jvisor: migration \\(source\\): pass-1 \\d+\\.\\d ms \\(12 pages\\), "
            + "stop at \\d+\\.\\d{6}, stop-vcpus \\d+\\.\\d ms\\R"), out);
    }

    @Test
    void offItPrintsNothing() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        MigrationTrace t = MigrationTrace.of(false, new PrintStream(bytes, true, StandardCharsets.UTF_8), "destination");
        assertFalse(t.on());
        t.phase("receive-ram");
        t.moment("resume");
        t.print();
        assertEquals(0, bytes.size());
    }
}
