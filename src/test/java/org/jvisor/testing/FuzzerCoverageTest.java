package org.jvisor.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Coverage feedback works: Jazzer, fuzzing {@link PlantedMagicFuzzTest} in a JVM of its own
 * (fuzzing mode runs one target per JVM), finds the six-byte magic. Without instrumentation (a
 * Jazzer that cannot read JDK 25 class files, as 0.24.0; a filter that misses org.jvisor) the
 * fuzzer is blind, the 60 s budget runs out and this fails; the control shows that blind
 * fuzzing indeed misses it. JVM starts: in the guest set.
 */
@GuestTest
class FuzzerCoverageTest {
    @Test
    void fuzzingFindsThePlantedMagic(@TempDir Path work) throws IOException, InterruptedException {
        String out = fuzz(work, List.of("-Djazzer.hooks=true"), 1);
        assertTrue(out.contains("PlantedMagicFound: planted magic found"), out);
        try (var files = Files.list(work)) {
            Path crash = files.filter(f -> f.getFileName().toString().startsWith("crash-")).findFirst()
                .orElseThrow(() -> new AssertionError("no crash file written:\n" + out));
            assertTrue(new String(Files.readAllBytes(crash), StandardCharsets.ISO_8859_1).startsWith("jvisor"));
        }
    }

    /** The control: the same fuzzer with its instrumentation off does not get there in 10 s. */
    @Test
    void blindFuzzingMissesIt(@TempDir Path work) throws IOException, InterruptedException {
        String out = fuzz(work, List.of("-Djazzer.hooks=false", "-Djazzer.max_duration=10s"), 0);
        assertTrue(out.contains("Done "), out);
    }

    /** Fuzzes the planted target in a child JVM, expects {@code exitCode}, returns its output. */
    private static String fuzz(Path work, List<String> jvmOptions, int exitCode)
            throws IOException, InterruptedException {
        List<String> options = new ArrayList<>(List.of("-XX:+EnableDynamicAgentLoading"));
        options.addAll(jvmOptions);
        List<String> cmd = ChildJvm.command(options, FuzzRunner.class.getName());
        cmd.add(PlantedMagicFuzzTest.class.getName() + "#plantedMagic");
        Path log = work.resolve("fuzz.log");
        // the working directory receives the crash file and the generated corpus
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true)
            .redirectOutput(log.toFile());
        pb.environment().put("JAZZER_FUZZ", "1");
        pb.environment().remove("JAZZER_MAX_DURATION");
        Process p = pb.start();
        boolean exited = p.waitFor(5, TimeUnit.MINUTES); // hang guard only: the target's budget is 60 s
        if (!exited) {
            p.destroyForcibly();
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(exited, "fuzzer still running:\n" + out);
        assertEquals(exitCode, p.exitValue(), out);
        return out;
    }
}
