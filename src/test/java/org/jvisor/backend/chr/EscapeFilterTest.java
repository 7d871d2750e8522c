package org.jvisor.backend.chr;

import java.io.ByteArrayOutputStream;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EscapeFilterTest {
    @Test
    void ctrlAEscapes() {
        AtomicInteger quits = new AtomicInteger();
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        EscapeFilter f = new EscapeFilter(quits::incrementAndGet, console);
        byte[] in = {'l', 's', 1, 'h', '\r', 1, 1, 'z', 1, 'q', 'k', 1};
        int n = f.filter(in, in.length);
        assertEquals("ls\r\u0001zk", new String(in, 0, n));
        assertTrue(console.toString().contains("C-a x    exit jvisor"), console.toString());
        assertEquals(0, quits.get());
        byte[] x = {'x', 'y'};
        assertEquals(0, f.filter(x, 1), "the pending Ctrl-A from the previous read applies to 'x'");
        assertEquals(1, quits.get());
    }
}
