package org.jvisor.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The archive debootstrap installs from is the one the host's apt uses for the host's release. */
class AptSourceTest {
    @TempDir
    Path etc;

    private void osRelease(String codename) throws IOException {
        Files.writeString(etc.resolve("os-release"), "PRETTY_NAME=\"Debian\"\nVERSION_CODENAME=" + codename + "\nID=debian\n");
        Files.createDirectories(etc.resolve("apt/sources.list.d"));
    }

    @Test
    void aDeb822SourceForTheHostsReleaseIsChosenOverSecurityAndDisabledOnes() throws IOException {
        osRelease("bookworm");
        Files.writeString(etc.resolve("apt/sources.list.d/a.sources"), """
            # disabled mirror
            Types: deb
            URIs: http://disabled.example/debian
            Suites: bookworm
            Components: main
            Enabled: no

            Types: deb-src
            URIs: http://src.example/debian
            Suites: bookworm
            Components: main

            Types: deb
            URIs: http://security.example/debian-security
            Suites: bookworm-security
            Components: main
            """);
        Files.writeString(etc.resolve("apt/sources.list.d/b.sources"), """
            Types: deb
            URIs: http://mirror.example/debian http://second.example/debian
            Suites: bookworm bookworm-updates
            Components: main
            """);
        Files.writeString(etc.resolve("apt/sources.list.d/c.sources.disabled"), """
            Types: deb
            URIs: http://never.example/debian
            Suites: bookworm
            """);
        assertEquals(new AptSource("http://mirror.example/debian", "bookworm"), AptSource.of(etc));
    }

    @Test
    void aOneLineSourceWithOptionsIsRead() throws IOException {
        osRelease("bookworm");
        Files.writeString(etc.resolve("apt/sources.list"), """
            # deb http://commented.example/debian bookworm main
            deb-src http://src.example/debian bookworm main
            deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://one.example/debian bookworm main contrib
            """);
        assertEquals(new AptSource("http://one.example/debian", "bookworm"), AptSource.of(etc));
    }

    @Test
    void noSourceForTheReleaseIsAClearError() throws IOException {
        osRelease("trixie");
        Files.writeString(etc.resolve("apt/sources.list"), "deb http://one.example/debian bookworm main\n");
        GuestBuildException e = assertThrows(GuestBuildException.class, () -> AptSource.of(etc));
        assertTrue(e.getMessage().startsWith("no apt source for Debian trixie in "), e.getMessage());
    }

    @Test
    void aHostWithoutACodenameIsRefused() throws IOException {
        Files.writeString(etc.resolve("os-release"), "ID=other\n");
        GuestBuildException e = assertThrows(GuestBuildException.class, () -> AptSource.of(etc));
        assertTrue(e.getMessage().endsWith("names no VERSION_CODENAME: is this a Debian host?"), e.getMessage());
    }
}
