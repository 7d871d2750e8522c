package org.jvisor.qmp;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.jvisor.api.ChardevInfo;
import org.jvisor.backend.chr.CharBackend;
import org.jvisor.backend.chr.StreamBackend;
import org.jvisor.backend.chr.UnixSocketServerBackend;
import org.jvisor.api.VirtualMachine;

/**
 * The monitors of a machine: QMP (-qmp, -mon mode=control) and the human monitors (-monitor,
 * -mon mode=readline, the -nographic console's), all serving the same commands.
 * {@link #bind} binds every socket before the machine starts (as QEMU opens its chardevs) and
 * {@link #serve} greets the clients and answers them; {@link #open} does both;
 * {@link #close} lets each connected client receive what is queued for it (the reply to quit,
 * the SHUTDOWN event) before jvisor exits.
 */
public final class QmpMonitors implements AutoCloseable {
    private final List<QmpServer> servers = new ArrayList<>();
    private final List<HumanEndpoint> humans = new ArrayList<>();

    /**
     * An interactive human monitor: its session, its character device and how query-chardev
     * names it; {@code owned} when the monitor opened the device (the shared console is the
     * machine's).
     */
    private record HumanEndpoint(HumanMonitorConfig config, HmpSession session, CharBackend chr, String filename,
                                 boolean owned) {
        ChardevInfo info() {
            boolean socket = config.where() instanceof HumanMonitorConfig.Where.Socket;
            return new ChardevInfo(config.label(), (socket && !chr.connected() ? "disconnected:" : "") + filename, true);
        }
    }

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
        return bind(vm, configs, List.of(), version, autostart, names, log);
    }

    /**
     * {@link #bind} with the human monitors {@code human} too (their sockets bound, stdio taken):
     * they run the same commands as QMP's human-monitor-command, through the same QMP commands.
     *
     * @throws IOException if a socket cannot listen (the message names it)
     */
    public static QmpMonitors bind(VirtualMachine vm, List<MonitorConfig> configs, List<HumanMonitorConfig> human,
                                   String version, boolean autostart, QomNames names, Consumer<String> log)
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
            for (HumanMonitorConfig h : human) {
                m.humans.add(open(vm, h, commands.humanMonitor(), log));
            }
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    private static HumanEndpoint open(VirtualMachine vm, HumanMonitorConfig h, HumanMonitor monitor, Consumer<String> log)
            throws IOException {
        switch (h.where()) {
            case HumanMonitorConfig.Where.Stdio s -> {
                CharBackend chr = new StreamBackend(new FileOutputStream(FileDescriptor.out), System.in);
                return new HumanEndpoint(h, new HmpSession(chr, monitor::run, HmpSession.Attachment.ALWAYS), chr, "stdio", true);
            }
            case HumanMonitorConfig.Where.SharedConsole c -> {
                CharBackend chr = vm.monitorConsole().orElseThrow(() -> new IOException(
                    "human monitor " + h.label() + ": the serial port does not share its console (-serial mon:stdio)"));
                return new HumanEndpoint(h, new HmpSession(chr, monitor::run, HmpSession.Attachment.FOCUS), chr, "stdio", false);
            }
            case HumanMonitorConfig.Where.Socket s -> {
                Consumer<String> prefixed = msg -> log.accept("human monitor " + h.label() + ": " + msg);
                UnixSocketServerBackend chr;
                String filename;
                try {
                    switch (s.address()) {
                        case MonitorConfig.Address.Unix u -> {
                            chr = UnixSocketServerBackend.listen(u.path(), s.waitForClient(), prefixed);
                            filename = u.qemuName();
                        }
                        case MonitorConfig.Address.Tcp t -> {
                            chr = UnixSocketServerBackend.listenTcp(t.host(), t.port(), s.waitForClient(), prefixed);
                            filename = new MonitorConfig.Address.Tcp(t.host(), chr.port()).qemuName();
                        }
                        case MonitorConfig.Address.Inherited i ->
                            throw new IOException("an inherited socket (fd=) is for QMP monitors only");
                    }
                } catch (IOException e) {
                    throw new IOException("human monitor " + h.label() + " (" + s.address().qemuName() + "): " + e.getMessage(), e);
                }
                return new HumanEndpoint(h, new HmpSession(chr, monitor::run, HmpSession.Attachment.PER_CONNECTION), chr, filename,
                    true);
            }
        }
    }

    /** Greets and answers the clients of every monitor from now on. */
    public void serve() {
        servers.forEach(QmpServer::start);
        humans.forEach(h -> h.session().start());
    }

    /** Where each human monitor on a socket listens, in order (a tcp port=0 one's port is the one chosen). */
    public List<String> humanAddresses() {
        return humans.stream().map(HumanEndpoint::filename).toList();
    }

    /** Where each monitor listens, in order (a tcp port=0 monitor's port is the one chosen). */
    public List<MonitorConfig.Address> addresses() {
        return servers.stream().map(QmpServer::address).toList();
    }

    private List<ChardevInfo> chardevs() {
        List<ChardevInfo> list = new ArrayList<>(servers.stream().map(QmpServer::chardevInfo).toList());
        humans.forEach(h -> list.add(h.info()));
        return list;
    }

    @Override
    public void close() {
        for (QmpServer s : servers) {
            s.close();
        }
        for (HumanEndpoint h : humans) {
            if (h.owned()) {
                h.chr().close();
            }
        }
    }
}
