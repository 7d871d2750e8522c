package org.jvisor.testing;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.jvisor.guest.CpioWriter;

/**
 * Linux user programs of the test guests (guests/linux/*.c): built static with the host's gcc and
 * carried into a guest in a second cpio archive appended to its initramfs (Linux unpacks every
 * archive in the file, later ones over earlier ones).
 */
public final class LinuxGuestPrograms {
    private LinuxGuestPrograms() {
    }

    /** Compiles {@code guests/linux/NAME.c} (static, -O2, threads) into {@code dir}/NAME. */
    public static Path compile(String name, Path dir) throws IOException, InterruptedException {
        Path source = Path.of("guests/linux", name + ".c");
        Path binary = dir.resolve(name);
        Process p = new ProcessBuilder(List.of("gcc", "-O2", "-static", "-pthread", "-Wall", "-o", binary.toString(),
            source.toString())).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException("gcc " + source + " failed:\n" + output);
        }
        return binary;
    }

    /**
     * {@code initramfs} with the programs appended as /bin/NAME, written to
     * {@code dir}/initramfs-programs.cpio.gz.
     */
    public static Path withPrograms(Path initramfs, Path dir, Path... programs) throws IOException {
        Path out = dir.resolve("initramfs-programs.cpio.gz");
        try (OutputStream o = Files.newOutputStream(out)) {
            Files.copy(initramfs, o);
            try (CpioWriter cpio = CpioWriter.gzip(new NonClosing(o), 0)) {
                for (Path p : programs) {
                    cpio.file("bin/" + p.getFileName(), 0755, Files.readAllBytes(p));
                }
            }
        }
        return out;
    }

    /** Lets the cpio writer finish its gzip member without closing the file it appends to. */
    private static final class NonClosing extends FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
