package org.jvisor.guest;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.jvisor.testing.RequiredTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DebianPackagesTest {

    @Test
    void debianVersionOrder() {
        List<String> ascending = List.of("1.0~rc1", "1.0", "1.0-1", "1.0-2", "1.0-10", "1.0a", "1.0.1", "1.2",
                "6.1.158-1", "6.1.192-2", "1:0.9", "1:1.35.0-4+deb12u1", "1:1.35.0-4+deb12u1+b1");
        for (int i = 0; i < ascending.size(); i++) {
            for (int j = 0; j < ascending.size(); j++) {
                int c = Integer.signum(DebianPackages.compareVersions(ascending.get(i), ascending.get(j)));
                assertEquals(Integer.signum(Integer.compare(i, j)), c, ascending.get(i) + " vs " + ascending.get(j));
            }
        }
    }

    @Test
    void kernelVersionFromPackageName() {
        assertEquals("6.1.0-56-cloud-amd64", DebianPackages.kernelVersionOf("linux-image-6.1.0-56-cloud-amd64"));
        assertNull(DebianPackages.kernelVersionOf("linux-image-cloud-amd64"), "a metapackage");
        assertNull(DebianPackages.kernelVersionOf("busybox-static"));
    }

    @Test
    void cachedPackagesAreUsedWithoutDownloading(@TempDir Path tmp) throws Exception {
        // Two cached versions: the higher one wins, nothing is run (the files are not even real .debs).
        Files.writeString(tmp.resolve("busybox-static_1%3a1.35.0-4+deb12u1_amd64.deb"), "old");
        Files.writeString(tmp.resolve("busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb"), "new");
        Files.writeString(tmp.resolve("busybox-static-extra_1.0_amd64.deb"), "other package");
        DebianPackages debs = new DebianPackages(tmp, new PrintStream(new ByteArrayOutputStream()), false);
        DebianPackages.Deb deb = debs.fetch("busybox-static");
        assertEquals("1:1.35.0-4+deb12u1+b1", deb.version());
        assertEquals("new", Files.readString(deb.file()));
    }

    @Test
    void clearErrors(@TempDir Path tmp) {
        DebianPackages debs = new DebianPackages(tmp, new PrintStream(new ByteArrayOutputStream()), false);
        assertThrows(IllegalArgumentException.class, () -> debs.fetch("Not A Package; rm -rf /"));
        GuestBuildException e = assertThrows(GuestBuildException.class,
                () -> DebianPackages.run(List.of("no-such-tool-jvisor"), tmp, 5));
        assertTrue(e.getMessage().contains("cannot run no-such-tool-jvisor"), e.getMessage());
    }

    @Test
    void silentHangTimesOut(@TempDir Path tmp) throws Exception {
        RequiredTools.assume(Tools.onPath("sleep"), "no sleep(1)");
        long t0 = System.nanoTime();
        GuestBuildException e = assertThrows(GuestBuildException.class,
                () -> DebianPackages.run(List.of("sleep", "30"), tmp, 1));
        assertTrue(e.getMessage().contains("timed out"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "the timeout holds");
        DebianPackages.Result ok = DebianPackages.run(List.of("sh", "-c", "echo out; echo err >&2; exit 3"), tmp, 10);
        assertEquals(3, ok.status());
        assertEquals("out\nerr\n", ok.output());
    }
}
