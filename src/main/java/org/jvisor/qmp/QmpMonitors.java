package org.jvisor.qmp;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.jvisor.api.ChardevInfo;
import org.jvisor.api.VirtualMachine;

/**
 * The QMP monitors of a machine (-qmp, -mon mode=control), all serving the same commands.
 * {@link #bind} binds every socket before the machine starts (as QEMU opens its chardevs) and
 * {@link #serve} greets the clients and answers them; {@link #open} does both;
 * {@link #close} lets each connected client receive what is queued for it (the reply to quit,
 * the SHUTDOWN event) before jvisor exits.
 */
public final class QmpMonitors implements AutoCloseable {
    private final List<QmpServer> servers = new ArrayList<>();

    private QmpMonitors() {
    }

    /**
     * Opens the monitors of {@code vm}; {@code version} is jvisor's (query-version's package is
     * "jvisor VERSION"); {@code names} the -device ids and -blockdev disks as QMP names them. Messages (a client dropped, wait=on waiting) go to {@code log}.
     *
     * @throws IOException if a socket cannot listen (the message names it)
     */
    public static QmpMonitors open(VirtualMachine vm, List<MonitorConfig> configs, String version, boolean autostart,
                                   QomNames names, Consumer<String> log)
            throws IOException {
        QmpMonitors m = bind(vm, configs, version, autostart, names, log);
        m.serve();
        return m;
    }

    /**
     * Binds the monitors' sockets without answering yet: a client may connect, and gets its
     * greeting once {@link #serve} runs. QEMU's main loop serves its monitors only after it set
     * the machine going, so a client never sees "prelaunch" unless -S.
     *
     * @throws IOException if a socket cannot listen (the message names it)
     */
    public static QmpMonitors bind(VirtualMachine vm, List<MonitorConfig> configs, String version, boolean autostart,
                                   QomNames names, Consumer<String> log)
            throws IOException {
        QmpMonitors m = new QmpMonitors();
        QmpCommands commands = new QmpCommands(vm, "jvisor " + version, autostart, m::chardevs, names);
        try {
            for (MonitorConfig c : configs) {
                try {
                    m.servers.add(QmpServer.listen(c, commands, log));
                } catch (IOException e) {
                    throw new IOException("QMP monitor " + c.label() + " (" + c.address().qemuName() + "): " + e.getMessage(), e);
                }
            }
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    /** Greets and answers the clients of every monitor from now on. */
    public void serve() {
        servers.forEach(QmpServer::start);
    }

    /** Where each monitor listens, in order (a tcp port=0 monitor's port is the one chosen). */
    public List<MonitorConfig.Address> addresses() {
        return servers.stream().map(QmpServer::address).toList();
    }

    private List<ChardevInfo> chardevs() {
        return servers.stream().map(QmpServer::chardevInfo).toList();
    }

    @Override
    public void close() {
        for (QmpServer s : servers) {
            s.close();
        }
    }
}
