package org.jvisor.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Listening unix sockets: where they appear, what they refuse, and what they leave behind. */
class SocketsTest {
    @TempDir
    Path dir;

    private List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void theListeningPathIsTheOnlyNameLeftAndItAcceptsAtOnce() throws Exception {
        Path path = dir.resolve("server.sock");
        try (Fd listener = Sockets.listen(path.toString(), 1); Fd client = Sockets.connect(path.toString());
             Fd server = Sockets.accept(listener)) {
            assertEquals(List.of("server.sock"), names(), "no staging name is left beside it");
            assertEquals(path.toString(), listener.name());
            assertTrue(Sockets.isListening(listener));
            try (Arena a = Arena.ofConfined()) {
                assertEquals(1, client.write(a.allocateFrom(ValueLayout.JAVA_BYTE, (byte) 42)));
                MemorySegment got = a.allocate(1);
                assertEquals(1, server.read(got));
                assertEquals(42, got.get(ValueLayout.JAVA_BYTE, 0));
            }
        }
    }

    @Test
    void aPathTakenByAnotherServerIsRefusedAsBindRefusesItAndThatServerKeepsIt() throws Exception {
        Path path = dir.resolve("taken.sock");
        try (Fd first = Sockets.listen(path.toString(), 1)) {
            SysException e = assertThrows(SysException.class, () -> Sockets.listen(path.toString(), 1));
            assertEquals(Errno.EADDRINUSE, e.errno());
            assertEquals("bind(" + path + ")", e.call());
            assertEquals(List.of("taken.sock"), names());
            try (Fd client = Sockets.connect(path.toString()); Fd server = Sockets.accept(first)) {
                assertTrue(server.fd() >= 0, "the first server still owns the path");
            }
        }
    }

    @Test
    void aPathWithNoRoomForAStagingNameIsBoundDirectly() throws Exception {
        String prefix = dir.toString() + "/";
        String path = prefix + "s".repeat(107 - prefix.length());        // 107 bytes: the most sun_path holds
        try (Fd listener = Sockets.listen(path, 1); Fd client = Sockets.connect(path)) {
            assertTrue(Sockets.isListening(listener));
            assertEquals(1, names().size());
        }
        SysException e = assertThrows(SysException.class, () -> Sockets.listen(path + "x", 1));
        assertEquals(Errno.ENAMETOOLONG, e.errno());
    }
}
