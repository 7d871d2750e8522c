package org.jvisor.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The native layer stays a leaf, and stays the only place that looks up libc. */
class SysLayeringTest {
    private static final Path MAIN = Path.of(System.getProperty("jvisor.root", "."), "src/main/java/org/jvisor");

    private static List<Path> sources(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.toString().endsWith(".java")).toList();
        }
    }

    @Test
    void sysUsesTheJdkOnly() throws IOException {
        List<Path> files = sources(MAIN.resolve("sys"));
        assertTrue(files.size() > 10, "found the sources: " + files);
        for (Path f : files) {
            for (String line : Files.readAllLines(f)) {
                assertTrue(!line.startsWith("import org.jvisor.") && !line.startsWith("import static org.jvisor."),
                    f.getFileName() + " imports from jvisor: " + line);
            }
        }
    }

    @Test
    void noOtherRoomBindsLibc() throws IOException {
        List<String> offenders = sources(MAIN).stream()
            .filter(f -> !f.startsWith(MAIN.resolve("sys")))
            .filter(f -> {
                try {
                    String text = Files.readString(f);
                    return text.contains("defaultLookup()") || text.contains("captureCallState");
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            })
            .map(f -> MAIN.relativize(f).toString())
            .toList();
        assertEquals(List.of(), offenders, "libc is bound only in org.jvisor.sys");
    }
}
