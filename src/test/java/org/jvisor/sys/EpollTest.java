package org.jvisor.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.junit.jupiter.api.Test;

class EpollTest {
    @Test
    void epollWakesOnAnEventFdAndReturnsItsDatum() throws Exception {
        try (Epoll ep = Epoll.create(4); EventFd a = EventFd.createNonBlocking(); EventFd b = EventFd.createNonBlocking()) {
            ep.add(a.fd(), Epoll.EPOLLIN, 100);
            ep.add(b.fd(), Epoll.EPOLLIN, -7);
            assertEquals(0, ep.await(0), "nothing ready");
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    b.signal(1);
                } catch (SysException e) {
                    throw new AssertionError(e);
                }
            });
            assertEquals(1, ep.await(-1));
            t.join();
            assertEquals(-7, ep.data(0));
            assertEquals(Epoll.EPOLLIN, ep.events(0) & Epoll.EPOLLIN);
            assertEquals(1, b.drain());
            ep.modify(a.fd(), Epoll.EPOLLIN, 5);
            a.signal(1);
            assertEquals(1, ep.await(-1));
            assertEquals(5, ep.data(0));
            ep.delete(a.fd());
            assertEquals(0, ep.await(0), "a deleted descriptor is no longer reported");
            SysException e = assertThrows(SysException.class, () -> ep.delete(a.fd()));
            assertEquals(Errno.ENOENT, e.errno());
            assertTrue(e.getMessage().startsWith("epoll_ctl(EPOLL_CTL_DEL, fd " + a.fd() + "): ENOENT"), e.getMessage());
        }
    }

    @Test
    void pollReportsWhichEntryIsReady() throws IOException {
        try (Poll p = new Poll(2); EventFd a = EventFd.createNonBlocking(); EventFd b = EventFd.createNonBlocking()) {
            p.watch(0, a.fd(), Poll.POLLIN);
            p.watch(1, b.fd(), Poll.POLLIN);
            assertEquals(0, p.await(0));
            a.signal(1);
            assertEquals(1, p.await(-1));
            assertEquals(Poll.POLLIN, p.revents(0));
            assertEquals(0, p.revents(1));
        }
    }
}
