package org.jvisor.machine;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Where a machine's state goes to or comes from, spelt as QEMU's migration URIs (docs/devel/
 * migration.rst): {@code file:PATH} (a snapshot file), {@code unix:PATH} and {@code tcp:HOST:PORT}
 * (the source connects, the destination listens, as QEMU's -incoming does), {@code exec:CMD}
 * (a shell command reads the stream on its standard input, or writes it on its standard output
 * for -incoming). The stream is jvisor's snapshot format ({@link SnapshotFile}) in every case.
 */
public sealed interface MigrationEndpoint {

    /** How long the source waits to connect, and the destination for its source's stream to begin. */
    long CONNECT_TIMEOUT_MILLIS = 10_000;

    /** The URI, as given. */
    String uri();

    /** Opens the sending end (the source's). */
    Outgoing openOutgoing() throws IOException;

    /** Opens the receiving end (the destination's); for sockets, waits for the source to connect. */
    Incoming openIncoming() throws IOException;

    /**
     * The endpoint of {@code uri}.
     *
     * @throws IllegalArgumentException naming what jvisor takes, for any other URI
     */
    static MigrationEndpoint parse(String uri) {
        int colon = uri.indexOf(':');
        String scheme = colon < 0 ? uri : uri.substring(0, colon);
        String rest = colon < 0 ? "" : uri.substring(colon + 1);
        if (!rest.isEmpty()) {
            switch (scheme) {
                case "file" -> {
                    return new File(Path.of(rest));
                }
                case "unix" -> {
                    return new Unix(Path.of(rest));
                }
                case "exec" -> {
                    return new Exec(rest);
                }
                case "tcp" -> {
                    int last = rest.lastIndexOf(':');
                    if (last >= 0) {
                        String host = rest.substring(0, last);
                        if (host.startsWith("[") && host.endsWith("]")) {
                            host = host.substring(1, host.length() - 1);
                        }
                        try {
                            int port = Integer.parseInt(rest.substring(last + 1));
                            if (port >= 0 && port <= 65535) {
                                return new Tcp(host, port);
                            }
                        } catch (NumberFormatException e) {
                            // the error below
                        }
                    }
                    throw new IllegalArgumentException("migration URI '" + uri + "': expected tcp:HOST:PORT");
                }
                default -> { }
            }
        }
        throw new IllegalArgumentException("migration URI '" + uri + "': jvisor takes file:PATH, unix:PATH, "
            + "tcp:HOST:PORT and exec:CMD");
    }

    /** The source's end: a stream to write the snapshot to, then {@link #commit()}. */
    interface Outgoing extends AutoCloseable {
        WritableByteChannel channel();

        /**
         * The snapshot is complete: make it durable (a file: flushed, then renamed into place) or
         * delivered (a socket: the destination has read it all and closed; a command: exited 0).
         */
        void commit() throws IOException;

        /** Without {@link #commit()}, abandons what was written (a partial file is removed). */
        @Override
        void close() throws IOException;
    }

    /** The destination's end: the snapshot's bytes, and their count if known beforehand (-1 if not). */
    interface Incoming extends AutoCloseable {
        ReadableByteChannel channel();

        long size();

        @Override
        void close() throws IOException;
    }

    /** A snapshot file; the source writes it beside its place and renames it over it once complete. */
    record File(Path path) implements MigrationEndpoint {
        @Override
        public String uri() {
            return "file:" + path;
        }

        @Override
        public Outgoing openOutgoing() throws IOException {
            Path dir = path.toAbsolutePath().getParent();
            Path partial = dir.resolve("." + path.getFileName() + ".partial");
            Files.deleteIfExists(partial);
            // Owner-only: the file holds guest memory (keys, passwords), as a core dump would.
            FileChannel ch = FileChannel.open(partial, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            return new Outgoing() {
                private boolean done;

                @Override
                public WritableByteChannel channel() {
                    return ch;
                }

                @Override
                public void commit() throws IOException {
                    ch.force(true);
                    ch.close();
                    Files.move(partial, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                    done = true;
                }

                @Override
                public void close() throws IOException {
                    if (!done) {
                        ch.close();
                        Files.deleteIfExists(partial);
                    }
                }
            };
        }

        @Override
        public Incoming openIncoming() throws IOException {
            FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
            return new StreamIncoming(ch, ch.size(), ch::close);
        }
    }

    /** A Unix domain socket: the destination listens at {@code path}, the source connects. */
    record Unix(Path path) implements MigrationEndpoint {
        @Override
        public String uri() {
            return "unix:" + path;
        }

        @Override
        public Outgoing openOutgoing() throws IOException {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(path));
            } catch (IOException e) {
                ch.close();
                throw new IOException("cannot connect to " + path + ": " + e.getMessage(), e);
            }
            return new SocketOutgoing(ch);
        }

        @Override
        public Incoming openIncoming() throws IOException {
            Files.deleteIfExists(path);
            try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                server.bind(UnixDomainSocketAddress.of(path));
                try {
                    SocketChannel ch = server.accept();
                    return new StreamIncoming(ch, -1, ch::close);
                } finally {
                    Files.deleteIfExists(path);
                }
            }
        }
    }

    /** TCP: the destination listens on {@code host} (empty or 0: every address) and {@code port}; the source connects. */
    record Tcp(String host, int port) implements MigrationEndpoint {
        @Override
        public String uri() {
            return "tcp:" + host + ":" + port;
        }

        @Override
        public Outgoing openOutgoing() throws IOException {
            SocketChannel ch = SocketChannel.open();
            try {
                // through the socket adaptor: a connect with a timeout (an unreachable host fails, not hangs)
                ch.socket().connect(new InetSocketAddress(host, port), (int) CONNECT_TIMEOUT_MILLIS);
            } catch (IOException e) {
                ch.close();
                throw new IOException("cannot connect to " + host + ":" + port + ": " + e.getMessage(), e);
            }
            return new SocketOutgoing(ch);
        }

        @Override
        public Incoming openIncoming() throws IOException {
            try (ServerSocketChannel server = ServerSocketChannel.open()) {
                server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                server.bind(host.isEmpty() || host.equals("0") ? new InetSocketAddress(port) : new InetSocketAddress(host, port));
                SocketChannel ch = server.accept();
                return new StreamIncoming(ch, -1, ch::close);
            }
        }
    }

    /** A shell command: it reads the stream on its standard input (source), or writes it (destination). */
    record Exec(String command) implements MigrationEndpoint {
        @Override
        public String uri() {
            return "exec:" + command;
        }

        @Override
        public Outgoing openOutgoing() throws IOException {
            Process p = new ProcessBuilder(List.of("/bin/sh", "-c", command))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            OutputStream in = p.getOutputStream();
            WritableByteChannel ch = new CommandInput(p, in);
            return new Outgoing() {
                private boolean done;

                @Override
                public WritableByteChannel channel() {
                    return ch;
                }

                @Override
                public void commit() throws IOException {
                    in.close();
                    try {
                        if (!p.waitFor(CONNECT_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)) {
                            p.destroyForcibly();
                            throw new IOException("'" + command + "' did not exit after the end of the stream");
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IOException("interrupted while '" + command + "' ran", e);
                    }
                    if (p.exitValue() != 0) {
                        throw new IOException("'" + command + "' exited with status " + p.exitValue());
                    }
                    done = true;
                }

                @Override
                public void close() throws IOException {
                    if (!done) {
                        ch.close();
                    }
                }
            };
        }

        /**
         * A command's standard input as a channel that an interrupt (migrate_cancel) closes while a
         * write blocks on a command that does not read: closing kills the command and its children,
         * the pipe's last reader, so the write ends (a closed pipe descriptor alone would not).
         */
        private static final class CommandInput extends java.nio.channels.spi.AbstractInterruptibleChannel
                implements WritableByteChannel {
            private final Process p;
            private final OutputStream in;
            private final byte[] chunk = new byte[64 << 10];

            CommandInput(Process p, OutputStream in) {
                this.p = p;
                this.in = in;
            }

            @Override
            public int write(java.nio.ByteBuffer src) throws IOException {
                int done = 0;
                while (src.hasRemaining()) {
                    int len = Math.min(src.remaining(), chunk.length);
                    src.get(chunk, 0, len);
                    boolean completed = false;
                    try {
                        begin();
                        in.write(chunk, 0, len);
                        completed = true;
                    } finally {
                        end(completed);
                    }
                    done += len;
                }
                return done;
            }

            @Override
            protected void implCloseChannel() throws IOException {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                in.close();
            }
        }

        @Override
        public Incoming openIncoming() throws IOException {
            Process p = new ProcessBuilder(List.of("/bin/sh", "-c", command))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            InputStream out = p.getInputStream();
            return new StreamIncoming(Channels.newChannel(out), -1, () -> {
                out.close();
                p.destroy();
            });
        }
    }

    /**
     * The source's socket. Delivery is confirmed by the destination: it closes its end after it
     * has read the END section, so the source waits (bounded) for that end of stream.
     */
    final class SocketOutgoing implements Outgoing {
        private final SocketChannel ch;

        SocketOutgoing(SocketChannel ch) {
            this.ch = ch;
        }

        @Override
        public WritableByteChannel channel() {
            return ch;
        }

        @Override
        public void commit() throws IOException {
            ch.shutdownOutput();
            // the socket adaptor (and its read timeout) does not exist for Unix sockets: a selector bounds the wait
            ch.configureBlocking(false);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CONNECT_TIMEOUT_MILLIS);
            java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocate(64);
            try (java.nio.channels.Selector sel = java.nio.channels.Selector.open()) {
                ch.register(sel, java.nio.channels.SelectionKey.OP_READ);
                while (true) {
                    long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                    if (left <= 0) {
                        throw new IOException("the destination did not confirm the end of the stream within "
                            + CONNECT_TIMEOUT_MILLIS / 1000 + " s");
                    }
                    sel.select(left);
                    sel.selectedKeys().clear();
                    if (ch.read(sink.clear()) < 0) {
                        return;     // the destination has read it all and closed
                    }
                }
            }
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    /** How a receiving end is let go. */
    @FunctionalInterface
    interface Closer {
        void close() throws IOException;
    }

    /**
     * A receiving end: a channel, its length if known (-1: a stream), and how to let it go (a
     * socket closed once the snapshot is read, which tells the source it arrived).
     */
    record StreamIncoming(ReadableByteChannel channel, long size, Closer closer) implements Incoming {
        @Override
        public void close() throws IOException {
            closer.close();
        }
    }
}
