package org.jvisor.backend.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.jvisor.sys.Errno;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Sockets;
import org.jvisor.sys.SysException;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.testing.ChildJvm;

class RawFileBackendTest {
    @TempDir
    Path dir;

    Path image(int size) throws IOException {
        Path p = dir.resolve("img.raw");
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 7);
        }
        Files.write(p, b);
        return p;
    }

    @Test
    void missingImageIsRefused() {
        IOException e = assertThrows(NoSuchFileException.class,
            () -> RawFileBackend.open(dir.resolve("nope.img")));
        assertTrue(e.getMessage().contains("nope.img"), e.getMessage());
    }

    @Test
    void anImageThatCannotBeOpenedSaysWhy() throws IOException {
        // A Unix socket exists and is no directory, but open(2) refuses it (ENXIO), even for root.
        Path sock = dir.resolve("disk.sock");
        try (Fd listener = Sockets.listen(sock.toString(), 1)) {
            IOException e = assertThrows(IOException.class, () -> RawFileBackend.open(sock));
            assertEquals("cannot open disk image " + sock + " for writing: open(" + sock.toAbsolutePath()
                + ", O_RDWR|O_CLOEXEC): ENXIO (" + Errno.ENXIO.description() + ")", e.getMessage());
            assertInstanceOf(SysException.class, e.getCause());
        }
    }

    @Test
    void imageSmallerThanASectorIsRefused() throws IOException {
        Path p = image(511);
        IOException e = assertThrows(IOException.class, () -> RawFileBackend.open(p));
        assertTrue(e.getMessage().contains("smaller than one 512-byte sector"), e.getMessage());
        // and the refused open did not leave the image locked
        RawFileBackend.open(image(512)).close();
    }

    @Test
    void secondOpenInThisProcessIsRefused() throws IOException {
        Path p = image(4096);
        try (RawFileBackend first = RawFileBackend.open(p)) {
            assertEquals(4096, first.size());
            IOException e = assertThrows(IOException.class, () -> RawFileBackend.open(p));
            assertTrue(e.getMessage().contains("locked"), e.getMessage());
            assertThrows(IOException.class, () -> RawFileBackend.open(p, true, CacheMode.WRITEBACK, m -> { }));
        }
        RawFileBackend.open(p).close(); // released on close
    }

    @Test
    void readOnlyOpensShareTheImage() throws IOException {
        Path p = image(4096);
        try (RawFileBackend a = RawFileBackend.open(p, true, CacheMode.WRITEBACK, m -> { });
             RawFileBackend b = RawFileBackend.open(p, true, CacheMode.WRITEBACK, m -> { })) {
            assertTrue(a.readOnly() && b.readOnly());
            assertThrows(IOException.class, () -> RawFileBackend.open(p));
            assertThrows(IOException.class, () -> a.write(0, ByteBuffer.allocate(512)));
        }
    }

    @Test
    void anotherJvisorProcessIsRefused() throws Exception {
        Path p = image(4096);
        List<String> cmd = new ArrayList<>(ChildJvm.command(List.of(), LockHolder.class.getName()));
        cmd.add(p.toString());
        Process child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            String line = new BufferedReader(new InputStreamReader(child.getInputStream())).readLine();
            assertEquals("open 4096", line);
            IOException e = assertThrows(IOException.class, () -> RawFileBackend.open(p));
            assertTrue(e.getMessage().contains("locked by") || e.getMessage().contains("is locked"), e.getMessage());
        } finally {
            child.getOutputStream().close();
            child.waitFor();
        }
        RawFileBackend.open(p).close();
    }

    @Test
    void positionalReadWriteAndFlush() throws IOException {
        Path p = image(8192);
        try (RawFileBackend b = RawFileBackend.open(p)) {
            assertEquals(8192, b.size());
            ByteBuffer in = ByteBuffer.allocateDirect(1000);
            b.read(100, in);
            byte[] got = new byte[1000];
            in.flip().get(got);
            assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(p), 100, 1100), got);
            byte[] pattern = new byte[700];
            Arrays.fill(pattern, (byte) 0x5A);
            b.write(4000, ByteBuffer.wrap(pattern));
            b.flush();
            assertArrayEquals(pattern, Arrays.copyOfRange(Files.readAllBytes(p), 4000, 4700));
            assertThrows(IOException.class, () -> b.read(8000, ByteBuffer.allocate(512)));
        }
    }

    @Test
    void cacheNoneHandlesUnalignedRequests() throws IOException {
        Path p = image(16384);
        byte[] orig = Files.readAllBytes(p);
        StringBuilder warn = new StringBuilder();
        try (RawFileBackend b = RawFileBackend.open(p, false, CacheMode.NONE, warn::append)) {
            assertTrue(b.direct() || warn.toString().contains("O_DIRECT"));
            byte[] pattern = new byte[1300];
            Arrays.fill(pattern, (byte) 0x33);
            b.write(700, ByteBuffer.wrap(pattern));
            ByteBuffer aligned = ByteBuffer.allocateDirect(8192 + 4096).alignedSlice(4096).limit(4096);
            b.write(8192, aligned);
            b.flush();
            byte[] want = orig.clone();
            System.arraycopy(pattern, 0, want, 700, 1300);
            Arrays.fill(want, 8192, 8192 + 4096, (byte) 0);
            assertArrayEquals(want, Files.readAllBytes(p));
            ByteBuffer back = ByteBuffer.allocate(1301);
            b.read(699, back);
            assertEquals(want[699], back.get(0));
            assertEquals(0x33, back.get(1));
            b.writeZeroes(1024, 512, false);
            byte[] z = Arrays.copyOfRange(Files.readAllBytes(p), 1024, 1536);
            assertArrayEquals(new byte[512], z);
        }
        assertEquals(16384, Files.size(p));
    }
}
