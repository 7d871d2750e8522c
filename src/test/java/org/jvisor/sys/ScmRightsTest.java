package org.jvisor.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScmRightsTest {
    @TempDir
    Path dir;

    @Test
    void aDescriptorPassedOverASocketPairReadsTheSameFile() throws IOException {
        Path file = dir.resolve("shared.txt");
        Files.writeString(file, "read through a passed descriptor");
        try (Sockets.Pair pair = Sockets.socketPair(Sockets.SOCK_STREAM);
             Fd original = Fd.open(file.toString(), Fd.O_RDONLY | Fd.O_CLOEXEC);
             Arena a = Arena.ofConfined()) {
            assertEquals(4, ScmRights.send(pair.first(), a.allocateFrom("file", StandardCharsets.US_ASCII).asSlice(0, 4),
                original.fd()));
            original.close(); // the receiver's copy must not depend on ours

            MemorySegment buf = a.allocate(16);
            ScmRights.Received r = ScmRights.receive(pair.second(), buf, 4);
            assertEquals(4, r.bytes());
            assertEquals("file", buf.getString(0, StandardCharsets.US_ASCII).substring(0, 4));
            assertEquals(1, r.fds().size());
            assertFalse(r.truncated());
            try (Fd received = r.fds().get(0)) {
                MemorySegment content = a.allocate(64);
                long n = received.pread(content, 0);
                assertEquals("read through a passed descriptor",
                    new String(content.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            }
        }
    }

    @Test
    void severalDescriptorsInOneMessageAndTooFewSlotsAreReported() throws IOException {
        try (Sockets.Pair pair = Sockets.socketPair(Sockets.SOCK_SEQPACKET);
             EventFd e1 = EventFd.create(); EventFd e2 = EventFd.create(); EventFd e3 = EventFd.create();
             Arena a = Arena.ofConfined()) {
            MemorySegment msg = a.allocate(8);
            ScmRights.send(pair.first(), msg, e1.fd(), e2.fd(), e3.fd());
            ScmRights.Received r = ScmRights.receive(pair.second(), a.allocate(8), 3);
            assertEquals(3, r.fds().size());
            // the received eventfd is the same counter as e2
            Fd second = r.fds().get(1);
            e2.signal(9);
            MemorySegment counter = a.allocate(8);
            assertEquals(8, second.read(counter));
            assertEquals(9, counter.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0));
            r.fds().forEach(Fd::close);

            ScmRights.send(pair.first(), msg, e1.fd(), e2.fd(), e3.fd());
            ScmRights.Received cut = ScmRights.receive(pair.second(), a.allocate(8), 1);
            assertTrue(cut.truncated(), "the third descriptor did not fit");
            assertTrue(cut.fds().size() >= 1 && cut.fds().size() < 3, "received " + cut.fds());
            cut.fds().forEach(Fd::close);
        }
    }

    @Test
    void unixListenerAcceptsAConnection() throws Exception {
        String path = dir.resolve("s.sock").toString();
        try (Fd listener = Sockets.listen(path, 1); Fd client = Sockets.connect(path); Fd server = Sockets.accept(listener);
             Arena a = Arena.ofConfined()) {
            client.write(a.allocateFrom("ping"));
            MemorySegment in = a.allocate(8);
            assertEquals(5, server.read(in));
            assertEquals("ping", in.getString(0));
        }
        SysException e = assertThrows(SysException.class, () -> Sockets.connect(dir.resolve("none.sock").toString()));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().startsWith("connect(" + dir.resolve("none.sock") + "): ENOENT"), e.getMessage());
        String tooLong = dir.resolve("x".repeat(120)).toString();
        e = assertThrows(SysException.class, () -> Sockets.listen(tooLong, 1));
        assertEquals(Errno.ENAMETOOLONG, e.errno());
    }
}
