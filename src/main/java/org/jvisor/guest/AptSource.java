package org.jvisor.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The Debian archive the host's apt already uses for its own release, so that debootstrap installs
 * from where this host may fetch packages (and the same release): the first {@code deb} source,
 * in /etc/apt/sources.list and then /etc/apt/sources.list.d (one-line {@code .list} files and
 * deb822 {@code .sources} files, sources.list(5)), whose suites include the host's
 * {@code VERSION_CODENAME}.
 */
record AptSource(String uri, String suite) {

    /** The host's source for its own release; an error says what is missing. */
    static AptSource ofHost() throws IOException {
        return of(Path.of("/etc"));
    }

    /** As {@link #ofHost()}, with {@code etc} in place of /etc. */
    static AptSource of(Path etc) throws IOException {
        String suite = codename(etc.resolve("os-release"));
        Path apt = etc.resolve("apt");
        List<Path> files = new ArrayList<>();
        files.add(apt.resolve("sources.list"));
        Path d = apt.resolve("sources.list.d");
        if (Files.isDirectory(d)) {
            try (Stream<Path> s = Files.list(d)) {
                s.filter(p -> p.toString().endsWith(".list") || p.toString().endsWith(".sources")).sorted()
                    .forEach(files::add);
            }
        }
        for (Path f : files) {
            if (!Files.isRegularFile(f)) {
                continue;
            }
            List<String> lines = Files.readAllLines(f);
            Optional<String> uri = f.toString().endsWith(".sources") ? fromDeb822(lines, suite) : fromOneLine(lines, suite);
            if (uri.isPresent()) {
                return new AptSource(uri.get(), suite);
            }
        }
        throw new GuestBuildException("no apt source for Debian " + suite + " in " + apt.resolve("sources.list")
            + " or " + d + ": debootstrap needs the archive the host installs from");
    }

    private static String codename(Path osRelease) throws IOException {
        if (Files.isRegularFile(osRelease)) {
            for (String line : Files.readAllLines(osRelease)) {
                if (line.startsWith("VERSION_CODENAME=")) {
                    String v = line.substring("VERSION_CODENAME=".length()).replace("\"", "").strip();
                    if (!v.isEmpty()) {
                        return v;
                    }
                }
            }
        }
        throw new GuestBuildException(osRelease + " names no VERSION_CODENAME: is this a Debian host?");
    }

    /** "deb [options] URI SUITE COMPONENT..." lines. */
    private static Optional<String> fromOneLine(List<String> lines, String suite) {
        for (String raw : lines) {
            String line = raw.replaceAll("#.*", "").replaceAll("\\[[^]]*]", " ").strip();
            String[] w = line.split("\\s+");
            if (w.length >= 3 && w[0].equals("deb") && w[2].equals(suite)) {
                return Optional.of(w[1]);
            }
        }
        return Optional.empty();
    }

    /** Stanzas of "Types:", "URIs:", "Suites:" fields, separated by blank lines; "Enabled: no" skips one. */
    private static Optional<String> fromDeb822(List<String> lines, String suite) {
        List<String> stanza = new ArrayList<>();
        for (String raw : Stream.concat(lines.stream(), Stream.of("")).toList()) {
            if (raw.startsWith("#")) {
                continue;
            }
            if (!raw.isBlank()) {
                stanza.add(raw);
                continue;
            }
            String types = field(stanza, "Types");
            String uris = field(stanza, "URIs");
            String suites = field(stanza, "Suites");
            boolean disabled = "no".equalsIgnoreCase(field(stanza, "Enabled"));
            stanza.clear();
            if (types == null || uris == null || suites == null || disabled) {
                continue;
            }
            if (List.of(types.split("\\s+")).contains("deb") && List.of(suites.split("\\s+")).contains(suite)) {
                return Optional.of(uris.split("\\s+")[0]);
            }
        }
        return Optional.empty();
    }

    private static String field(List<String> stanza, String name) {
        for (String l : stanza) {
            int c = l.indexOf(':');
            if (c > 0 && l.substring(0, c).strip().equalsIgnoreCase(name)) {
                return l.substring(c + 1).strip();
            }
        }
        return null;
    }
}
