package org.jvisor.qmp;

import java.io.IOException;
import java.util.function.Consumer;

/**
 * The control socket of a jvisor server: a QMP-framed monitor (greeting, qmp_capabilities, ids,
 * errors as QEMU's) whose commands create, list and destroy the machines of a {@link VmHost}.
 */
public final class ControlMonitor implements AutoCloseable {
    private final QmpServer server;

    private ControlMonitor(QmpServer server) {
        this.server = server;
    }

    /**
     * Listens at {@code config}'s address; query-version's package is "jvisor VERSION".
     *
     * @throws IOException if the socket cannot listen (the message names it)
     */
    public static ControlMonitor open(MonitorConfig config, VmHost host, String version, Consumer<String> log)
            throws IOException {
        QmpServer s;
        try {
            s = QmpServer.listen(config, new ControlCommands(host, "jvisor " + version), log);
        } catch (IOException e) {
            throw new IOException("control socket " + config.address().qemuName() + ": " + e.getMessage(), e);
        }
        s.start();
        return new ControlMonitor(s);
    }

    /** Where it listens (a tcp port=0 socket's port is the one chosen). */
    public MonitorConfig.Address address() {
        return server.address();
    }

    @Override
    public void close() {
        server.close();
    }
}
