package org.jvisor.backend.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.jvisor.sys.Fd;
import org.jvisor.testing.RequiredTools;

/**
 * Starting passt for -netdev user: the message when it is missing names the package; a passt that
 * exits at once is reported with its output; one that never gets ready is given up on after the
 * wait and stopped; the real passt (when installed) binds the forwarded host port, takes jvisor's
 * connection, and is gone with its directory after close.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)     // hang guard only
class PasstTest {
    private static Path script(String body) throws IOException {
        Path dir = Files.createTempDirectory("fake-passt");
        Path p = dir.resolve("passt");
        Files.writeString(p, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }

    private static void remove(Path script) throws IOException {
        Files.delete(script);
        Files.delete(script.getParent());
    }

    @Test
    void aMissingPasstNamesTheDebianPackage() {
        var e = assertThrows(IOException.class, () -> Passt.start("-netdev user,id=u", List.of(), List.of(), null, 1000));
        assertTrue(e.getMessage().startsWith("-netdev user,id=u: user networking runs passt, which is not installed")
            && e.getMessage().contains("install Debian's package 'passt'"), e.getMessage());
    }

    @Test
    void passtIsFoundOnPath() throws IOException {
        Path fake = script("exit 0");
        try {
            assertEquals(fake, Passt.find("/nonexistent:" + fake.getParent()));
        } finally {
            remove(fake);
        }
    }

    @Test
    void aPasstThatExitsAtOnceIsReportedWithItsOutput() throws IOException {
        Path fake = script("echo \"bad option: $*\" >&2; exit 3");
        try (Passt p = Passt.start("-netdev user,id=u", List.of(new Passt.Forward(false, null, 2222, 22)), List.of("-4"), fake, 10_000)) {
            var e = assertThrows(IOException.class, p::connect);
            assertTrue(e.getMessage().contains("passt exited with status 3 before it was ready")
                && e.getMessage().contains("bad option: -f -q -1 -s ") && e.getMessage().contains(" -4 -t 2222:22") && e.getMessage().contains("-t 2222:22"), e.getMessage());
        } finally {
            remove(fake);
        }
    }

    @Test
    void aPasstThatNeverGetsReadyIsGivenUpOnAndStopped() throws Exception {
        Path fake = script("exec sleep 600");
        ProcessHandle h;
        try (Passt p = Passt.start("-netdev user,id=u", List.of(), List.of(), fake, 300)) {
            h = p.process();
            var e = assertThrows(IOException.class, p::connect);
            assertTrue(e.getMessage().contains("passt was not ready after 300 ms"), e.getMessage());
        } finally {
            remove(fake);
        }
        assertFalse(h.isAlive(), "stopped by close");
    }

    @Test
    void realPasstBindsTheForwardedPortServesOneClientAndGoes() throws Exception {
        Path passt = Passt.find(System.getenv("PATH"));
        RequiredTools.assume(passt != null, "skipped: passt is not installed (apt-get install passt)");
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Passt p = Passt.start("-netdev user,id=u", List.of(new Passt.Forward(false, "127.0.0.1", port, 22)));
        ProcessHandle h = p.process();
        Path dir;
        try (Fd socket = p.connect()) {
            dir = Path.of(h.info().arguments().orElseThrow()[4]).getParent();
            assertTrue(Files.isDirectory(dir), dir.toString());
            assertThrows(BindException.class, () -> new ServerSocket(port, 1, InetAddress.getLoopbackAddress()).close(),
                "passt listens on the forwarded port");
            assertTrue(h.isAlive());
        }
        // One client (-1): passt exits once the connection closes, before close() would stop it.
        assertTrue(h.onExit().get(30, TimeUnit.SECONDS) != null);
        p.close();
        assertFalse(Files.exists(dir), "the private directory is removed");
    }
}
