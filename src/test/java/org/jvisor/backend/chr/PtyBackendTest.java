package org.jvisor.backend.chr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * -chardev pty: what the guest writes comes out of /dev/pts/N unchanged (raw mode: no CR added),
 * what a terminal program types there reaches the guest, and output nobody reads is dropped
 * instead of blocking the guest.
 */
class PtyBackendTest {

    @Test
    void bytesPassBothWaysThroughTheSlave() throws Exception {
        try (PtyBackend pty = PtyBackend.open()) {
            assertTrue(pty.path().startsWith("/dev/pts/"), pty.path());
            LinkedBlockingQueue<String> input = new LinkedBlockingQueue<>();
            pty.start((data, length) -> input.add(new String(data, 0, length, StandardCharsets.ISO_8859_1)));
            try (FileInputStream in = new FileInputStream(pty.path()); FileOutputStream out = new FileOutputStream(pty.path())) {
                byte[] line = "guest says hi\n".getBytes(StandardCharsets.US_ASCII);
                pty.write(line, 0, line.length);
                byte[] got = new byte[line.length];
                int n = 0;
                while (n < got.length) {
                    n += in.read(got, n, got.length - n);
                }
                assertEquals("guest says hi\n", new String(got, StandardCharsets.US_ASCII));

                out.write("ls\r".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                StringBuilder typed = new StringBuilder();
                while (typed.length() < 3) {
                    String part = input.poll(30, TimeUnit.SECONDS);   // hang guard
                    assertTrue(part != null, "no input reached the guest: " + typed);
                    typed.append(part);
                }
                assertEquals("ls\r", typed.toString());
            }
        }
    }

    @Test
    void outputNobodyReadsIsDroppedWithoutBlocking() {
        try (PtyBackend pty = PtyBackend.open()) {
            byte[] chunk = new byte[64 * 1024];
            for (int i = 0; i < 64; i++) {          // 4 MiB, far more than a pty holds
                pty.write(chunk, 0, chunk.length);
            }
            pty.write('x');
        } catch (org.jvisor.sys.SysException e) {
            throw new AssertionError(e);
        }
    }
}
