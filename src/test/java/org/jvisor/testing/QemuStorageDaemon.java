package org.jvisor.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;


/**
 * Debian's qemu-storage-daemon (qemu-system-common) exporting a raw image as a vhost-user-blk
 * backend on a Unix socket: the real peer for jvisor's vhost-user frontend. Tests without the
 * binary are skipped with the package to install.
 */
public final class QemuStorageDaemon implements AutoCloseable {
    public static final Path BINARY = Path.of("/usr/bin/qemu-storage-daemon");

    private final Path image;
    private final Path socket;
    private final Path log;
    private Process process;

    private QemuStorageDaemon(Path image, Path socket, Path log) {
        this.image = image;
        this.socket = socket;
        this.log = log;
    }

    /** Starts the daemon on {@code image}, listening at {@code socket}; returns once the socket is there. */
    public static QemuStorageDaemon start(Path image, Path socket) throws IOException, InterruptedException {
        RequiredTools.assume(Files.isExecutable(BINARY), "needs qemu-storage-daemon (apt-get install qemu-system-common)");
        QemuStorageDaemon d = new QemuStorageDaemon(image, socket, socket.resolveSibling(socket.getFileName() + ".log"));
        d.restart();
        return d;
    }

    /** Starts the daemon again (after {@link #kill}), on the same image and socket. */
    public void restart() throws IOException, InterruptedException {
        Files.deleteIfExists(socket);
        process = new ProcessBuilder(List.of(BINARY.toString(),
            "--blockdev", "driver=file,node-name=f0,filename=" + image,
            "--export", "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=" + socket + ",writable=on"))
            .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        for (int i = 0; i < 500 && !Files.exists(socket); i++) {
            if (!process.isAlive()) {
                throw new IOException("qemu-storage-daemon ended with status " + process.exitValue() + ": " + Files.readString(log));
            }
            Thread.sleep(20);
        }
        if (!Files.exists(socket)) {
            throw new IOException("qemu-storage-daemon made no socket at " + socket);
        }
    }

    /** SIGKILL: the backend dies mid-run, as a crash would. */
    public void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    /** What the daemon printed. */
    public String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null) {
            process.destroy();
            process.waitFor();
        }
    }
}
