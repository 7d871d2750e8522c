package org.jvisor.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.junit.jupiter.api.Test;

class EventFdTest {
    @Test
    void signalsAddUpAndAReadClearsThem() throws IOException {
        try (EventFd e = EventFd.create()) {
            e.signal(1);
            e.signal(41);
            assertEquals(42, e.await());
            e.signal(-2L >>> 1);
            assertEquals(-2L >>> 1, e.await(), "the counter uses 63 bits and more");
        }
    }

    @Test
    void anEmptyNonBlockingEventFdFailsWithEagainAndDrainsToZero() throws IOException {
        try (EventFd e = EventFd.createNonBlocking()) {
            SysException x = assertThrows(SysException.class, e::await);
            assertEquals(Errno.EAGAIN, x.errno());
            assertTrue(x.getMessage().startsWith("read(eventfd " + e.fd() + "): EAGAIN"), x.getMessage());
            assertEquals(0, e.drain());
            e.signal(3);
            assertEquals(3, e.drain());
            assertEquals(0, e.drain());
        }
    }

    @Test
    void aBlockedReaderWakesOnASignalFromAnotherThread() throws Exception {
        try (EventFd e = EventFd.create()) {
            long[] got = new long[1];
            Thread reader = Thread.ofPlatform().start(() -> {
                try {
                    got[0] = e.await();
                } catch (SysException x) {
                    throw new AssertionError(x);
                }
            });
            e.signal(7);
            reader.join();
            assertEquals(7, got[0]);
        }
    }
}
