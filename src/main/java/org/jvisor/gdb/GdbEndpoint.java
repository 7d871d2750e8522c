package org.jvisor.gdb;

import java.nio.file.Path;

/**
 * Where the gdbstub listens: QEMU's {@code -gdb DEV} ({@code -s} is {@code -gdb tcp::1234}).
 * {@code tcp:[HOST]:PORT} (every address when HOST is empty, as QEMU), {@code
 * unix:PATH[,server=on][,wait=off]}; {@code none} is no stub at all ({@link #parse} returns null).
 */
public sealed interface GdbEndpoint {
    /** QEMU's -s. */
    GdbEndpoint DEFAULT = new Tcp("", 1234);

    record Tcp(String host, int port) implements GdbEndpoint {
        @Override
        public String toString() {
            return "tcp:" + host + ":" + port;
        }
    }

    record Unix(Path path) implements GdbEndpoint {
        @Override
        public String toString() {
            return "unix:" + path;
        }
    }

    /**
     * The endpoint {@code dev} names, or null for {@code none}.
     *
     * @throws IllegalArgumentException with the reason, for anything else
     */
    static GdbEndpoint parse(String dev) {
        if (dev.equals("none")) {
            return null;
        }
        String[] parts = dev.split(",");
        String main = parts[0];
        for (int i = 1; i < parts.length; i++) {
            // QEMU's gdbstub always serves and never waits: these spellings say so and change nothing
            if (!parts[i].matches("server(=on)?|wait=off|nowait|nodelay(=on)?|ipv4(=on)?")) {
                throw new IllegalArgumentException("'" + parts[i] + "' is not supported here (a gdbstub always listens"
                    + " and does not wait for gdb)");
            }
        }
        if (main.startsWith("tcp:")) {
            String hp = main.substring(4);
            int colon = hp.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("'" + dev + "': tcp:[HOST]:PORT expected");
            }
            int port;
            try {
                port = Integer.parseInt(hp.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + hp.substring(colon + 1) + "' is not a port number", e);
            }
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port " + port + " is out of range");
            }
            return new Tcp(hp.substring(0, colon), port);
        }
        if (main.startsWith("unix:") && main.length() > 5) {
            return new Unix(Path.of(main.substring(5)));
        }
        throw new IllegalArgumentException("'" + dev + "' is not a gdbstub endpoint (tcp:[HOST]:PORT, unix:PATH or none)");
    }
}
