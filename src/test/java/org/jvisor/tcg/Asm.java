package org.jvisor.tcg;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Assembles AT&T-syntax snippets with the machine's GNU as into flat binary (test helper). */
final class Asm {
    private Asm() {
    }

    /** Assembles and links at {@code origin}, so absolute references to labels resolve. */
    static byte[] assembleAt(String source, long origin) {
        return build(source, origin);
    }

    static byte[] assemble(String source) {
        return build(source, -1);
    }

    private static byte[] build(String source, long origin) {
        try {
            Path dir = Files.createTempDirectory("tcgasm");
            try {
                Path src = dir.resolve("t.s");
                Path obj = dir.resolve("t.o");
                Path bin = dir.resolve("t.bin");
                Files.writeString(src, ".text\n.code64\n" + source + "\n");
                run(List.of("as", "--64", "-o", obj.toString(), src.toString()));
                if (origin >= 0) {
                    run(List.of("ld", "-o", bin.toString(), "-e", "0", "-Ttext=0x" + Long.toHexString(origin),
                        "--oformat", "binary", obj.toString()));
                } else {
                    run(List.of("objcopy", "-O", "binary", "-j", ".text", obj.toString(), bin.toString()));
                }
                return Files.readAllBytes(bin);
            } finally {
                try (var files = Files.list(dir)) {
                    for (Path p : files.toList()) {
                        Files.deleteIfExists(p);
                    }
                }
                Files.deleteIfExists(dir);
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void run(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (p.waitFor() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
