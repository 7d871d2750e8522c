package org.jvisor.backend.chr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The serial port's host stream: whole lines at once, a partial line once the guest goes quiet. */
class StreamBackendTest {
    /** Host output that counts its flushes and signals each one. */
    private static final class Host extends ByteArrayOutputStream {
        final CountDownLatch flushed = new CountDownLatch(1);
        int flushes;

        @Override
        public synchronized void flush() {
            flushes++;
            flushed.countDown();
        }

        synchronized String text() {
            return toString(StandardCharsets.US_ASCII);
        }
    }

    @Test
    void aWholeLineIsWrittenAtOnce() {
        Host host = new Host();
        StreamBackend b = new StreamBackend(host, null);
        b.start((data, n) -> { });
        b.write("login: ok\n".getBytes(StandardCharsets.US_ASCII), 0, 10);
        assertEquals("login: ok\n", host.text());
        b.close();
    }

    @Test
    void aPartialLineReachesTheHostWhenTheGuestGoesQuiet() throws InterruptedException {
        Host host = new Host();
        StreamBackend b = new StreamBackend(host, null);
        b.start((data, n) -> { });
        awaitIdleFlusher();
        b.write("jvisor:/# ".getBytes(StandardCharsets.US_ASCII), 0, 10);
        // the flusher was asleep, waiting for output, and writes the prompt out by itself (the
        // bound only keeps a broken flusher from hanging the build)
        assertTrue(host.flushed.await(1, TimeUnit.MINUTES), "the prompt was never flushed");
        assertEquals("jvisor:/# ", host.text());
        b.close();
    }

    /**
     * Waits until the flusher sleeps with nothing to write: untimed (WAITING), since an idle
     * guest must cost no periodic wake-ups; a flusher that polls never gets there.
     */
    private static void awaitIdleFlusher() throws InterruptedException {
        for (int i = 0; i < 60_000; i++) {
            if (Thread.getAllStackTraces().keySet().stream()
                    .anyMatch(t -> t.getName().equals("chr-flush") && t.getState() == Thread.State.WAITING)) {
                return;
            }
            Thread.sleep(1);
        }
        throw new AssertionError("the output flusher never waits without a timeout: it polls");
    }

    @Test
    void closeWritesWhatIsBuffered() {
        Host host = new Host();
        StreamBackend b = new StreamBackend(host, null);
        b.write('x');
        b.close();
        assertEquals("x", host.text());
    }
}
