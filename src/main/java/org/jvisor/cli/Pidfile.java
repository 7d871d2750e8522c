package org.jvisor.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** -pidfile FILE: jvisor's process id and a newline, as QEMU writes it; removed when jvisor ends. */
final class Pidfile implements AutoCloseable {
    private final Path path;

    private Pidfile(Path path) {
        this.path = path;
    }

    /** Writes the pidfile ({@code path} null: none). */
    static Pidfile write(Path path) throws IOException {
        if (path != null) {
            try {
                Files.writeString(path, ProcessHandle.current().pid() + "\n");
            } catch (IOException e) {
                throw new IOException("-pidfile " + path + ": cannot create PID file: " + e.getMessage(), e);
            }
        }
        return new Pidfile(path);
    }

    @Override
    public void close() {
        if (path != null) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                // a leftover pidfile names a process that is gone; nothing else to do
            }
        }
    }
}
