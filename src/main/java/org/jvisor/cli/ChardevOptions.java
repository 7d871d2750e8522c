package org.jvisor.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.jvisor.devices.virtio.VirtioConsole;
import org.jvisor.qmp.HumanMonitorConfig;
import org.jvisor.qmp.MonitorConfig;
import org.jvisor.config.MachineConfig;
import org.jvisor.config.MachineConfig.ChardevConfig;
import org.jvisor.config.MachineConfig.Transport;
import org.jvisor.config.MachineConfig.VirtioDeviceConfig;
import org.jvisor.config.MachineConfig.SerialConfig;
import org.jvisor.config.MachineConfig.VirtioSerialPortConfig;

/**
 * QEMU's -chardev, its users (the virtio-serial devices -device virtio-serial-pci, virtconsole,
 * virtserialport; -serial chardev:; the QMP monitors -mon chardev=ID,mode=control) and -qmp,
 * collected across the command line and checked together at the end: every chardev id is defined
 * once and used once, stdio has one user, every port sits on a virtio-serial (-pci or -device)
 * with a free port number, a monitor's chardev is a socket server.
 */
final class ChardevOptions {
    private static final Set<String> PORT_DEVICES = Set.of("virtconsole", "virtserialport");

    private final Map<String, ChardevConfig> chardevs = new LinkedHashMap<>();
    private final List<Bus> buses = new ArrayList<>();
    /** Who uses each chardev id, for the one-user rule: "-device virtconsole", "-serial". */
    private final Map<String, String> users = new LinkedHashMap<>();
    /** -chardev socket,host=,port=: only a monitor can use one (the devices' socket backend is Unix-only). */
    private final Map<String, MonitorConfig.Address.Tcp> tcpSockets = new LinkedHashMap<>();
    /** -qmp and -mon in command-line order; a -mon is resolved against its chardev at the end. */
    private final List<MonitorRequest> monitorRequests = new ArrayList<>();
    /** Each TCP socket chardev's wait= (its Unix siblings keep theirs in their configuration). */
    private final Map<String, Boolean> waits = new LinkedHashMap<>();
    /** -chardev socket,fd=N: listening sockets inherited from the starting process (libvirt's monitor). */
    private final Map<String, MonitorConfig.Address.Inherited> inheritedSockets = new LinkedHashMap<>();
    private final FdSets fdSets;
    private List<MonitorConfig> monitors = List.of();
    private int compatMonitors;

    /** Whether a -chardev socket,fd=N names an inherited descriptor. */
    boolean hasInheritedSocket() {
        return !inheritedSockets.isEmpty();
    }

    ChardevOptions(FdSets fdSets) {
        this.fdSets = fdSets;
    }

    /** A monitor as the command line asks for it: -qmp (complete) or -mon (its chardev resolved at the end). */
    private sealed interface MonitorRequest {
    }

    /** -qmp DEV: the monitor with its own socket. */
    private record Qmp(MonitorConfig monitor) implements MonitorRequest {
    }

    /** -mon chardev=ID,mode=control[,pretty=on], waiting for its -chardev. */
    private record Mon(String chardev, boolean pretty) implements MonitorRequest {
    }

    /** A human monitor on a chardev: -mon chardev=ID[,mode=readline] or -monitor chardev:ID. */
    private record HumanMon(String chardev, String label) {
    }

    /** The human monitors, in command-line order; chardev ones resolved at the end. */
    private final List<Object> humanRequests = new ArrayList<>();
    private List<HumanMonitorConfig> humanMonitors = List.of();
    /** Whether -monitor, -qmp or -mon was given: then -nographic adds no monitor of its own (QEMU's default_monitor). */
    private boolean monitorGiven;

    /** One virtio-serial: where its placeholder sits in the virtio device list, its transport and its ports. */
    private record Bus(int listIndex, int maxPorts, Transport transport, VirtioSerialPortConfig[] ports) {
        boolean hasFree(boolean console) {
            for (int nr = console ? 0 : 1; nr < maxPorts; nr++) {
                if (ports[nr] == null) {
                    return true;
                }
            }
            return false;
        }
    }

    /** Whether this class parses the -device: {@code base} is the virtio model without its transport. */
    static boolean handlesDevice(String base, String driver) {
        return "virtio-serial".equals(base) || PORT_DEVICES.contains(driver);
    }

    /** {@code -chardev BACKEND,id=ID,...} */
    void chardev(String text) throws UsageException {
        OptionList o = OptionList.parse("-chardev", legacyFlags(text), true);
        String backend = o.implied() != null ? o.implied() : o.get("backend");
        if (backend == null) {
            throw new UsageException("-chardev: no backend given (expected stdio, file, socket or null)");
        }
        String id = o.get("id");
        if (id == null || id.isEmpty()) {
            throw new UsageException("-chardev " + backend + ": id=ID is required");
        }
        if (chardevs.containsKey(id) || tcpSockets.containsKey(id) || inheritedSockets.containsKey(id)) {
            throw new UsageException("-chardev: duplicate id '" + id + "'");
        }
        if (backend.equals("socket") && (o.get("host") != null || o.get("port") != null)) {
            o.allowOnly(Set.of("backend", "id", "host", "port", "server", "wait"), backend);
            if (!o.bool(backend, "server", false)) {
                throw new UsageException("-chardev socket: only server=on (jvisor listens on host:port) is supported");
            }
            tcpSockets.put(id, tcp("-chardev socket", o.get("host") == null ? "" : o.get("host"), required(o, backend, "port")));
            waits.put(id, o.bool(backend, "wait", true));       // QEMU's default for a server is wait=on
            return;
        }
        if (backend.equals("socket") && o.get("fd") != null) {
            o.allowOnly(Set.of("backend", "id", "fd", "server", "wait"), backend);
            if (!o.bool(backend, "server", false)) {
                throw new UsageException("-chardev socket,fd=: only server=on (a listening socket jvisor accepts on) is supported");
            }
            int fd;
            try {
                fd = Integer.parseInt(o.get("fd"));
            } catch (NumberFormatException e) {
                throw new UsageException("-chardev socket: fd='" + o.get("fd") + "' is not a descriptor number");
            }
            if (fd <= 2) {
                throw new UsageException("-chardev socket: fd=" + fd + " is stdin, stdout or stderr, not a socket");
            }
            inheritedSockets.put(id, new MonitorConfig.Address.Inherited(fd));
            waits.put(id, o.bool(backend, "wait", true));
            return;
        }
        ChardevConfig c = switch (backend) {
            case "stdio" -> {
                o.allowOnly(Set.of("backend", "id", "signal"), backend);
                if ("on".equals(o.get("signal"))) {
                    throw new UsageException("-chardev stdio: signal=on is not supported: the terminal is in raw mode, "
                        + "Ctrl-C goes to the guest and Ctrl-A x quits");
                }
                yield new ChardevConfig.Stdio(id);
            }
            case "file" -> {
                o.allowOnly(Set.of("backend", "id", "path", "append"), backend);
                String path = fdSets.resolve("-chardev file", required(o, backend, "path"));
                yield new ChardevConfig.File(id, Path.of(path), o.bool(backend, "append", false));
            }
            case "socket" -> {
                o.allowOnly(Set.of("backend", "id", "path", "server", "wait", "reconnect"), backend);
                String path = required(o, backend, "path");
                if (!o.bool(backend, "server", false)) {
                    if (o.get("wait") != null) {
                        throw new UsageException("-chardev socket,id=" + id + ": 'wait' option is incompatible with socket in client connect mode");
                    }
                    yield new ChardevConfig.SocketClient(id, Path.of(path),
                        o.get("reconnect") == null ? 0 : o.number("socket", "reconnect", 0, 0, 86400));
                }
                if (o.get("reconnect") != null) {
                    throw new UsageException("-chardev socket,id=" + id + ": 'reconnect' option is incompatible with socket in server listen mode");
                }
                yield new ChardevConfig.Socket(id, Path.of(path), o.bool(backend, "wait", true));
            }
            case "null" -> {
                o.allowOnly(Set.of("backend", "id"), backend);
                yield new ChardevConfig.Null(id);
            }
            case "pty" -> {
                o.allowOnly(Set.of("backend", "id"), backend);
                yield new ChardevConfig.Pty(id);
            }
            default -> throw new UsageException("-chardev: '" + backend
                + "' is not a character device backend jvisor has (known: stdio, file, socket, null, pty)");
        };
        chardevs.put(id, c);
    }

    /**
     * {@code -device virtio-serial-pci|virtio-serial-device|virtconsole|virtserialport,...};
     * {@code transport} is the controller's (null for a port).
     */
    void device(OptionList o, Transport transport, List<VirtioDeviceConfig> devices) throws UsageException {
        String driver = o.implied();
        if (!PORT_DEVICES.contains(driver)) {
            o.allowOnly(Set.of("max_ports"), driver);
            int max = o.number(driver, "max_ports", VirtioConsole.DEFAULT_MAX_PORTS, 1, VirtioConsole.MAX_PORTS_LIMIT);
            buses.add(new Bus(devices.size(), max, transport, new VirtioSerialPortConfig[max]));
            devices.add(new VirtioDeviceConfig.VirtioSerial(max, List.of(), transport));
            return;
        }
        o.allowOnly(Set.of("chardev", "name", "nr"), driver);
        boolean console = driver.equals("virtconsole");
        String chardev = o.get("chardev");
        if (chardev == null) {
            throw new UsageException("-device " + driver + ": chardev=ID is required");
        }
        use(chardev, "-device " + driver);
        if (buses.isEmpty()) {
            throw new UsageException("-device " + driver
                + ": there is no virtio-serial bus (give -device virtio-serial-pci, or virtio-serial-device on microvm, before it)");
        }
        Bus bus = buses.stream().filter(b -> b.hasFree(console)).findFirst().orElseThrow(() -> new UsageException(
            "-device " + driver + ": every virtio-serial is full (raise max_ports=)"));
        String name = o.get("name");
        if (name != null) {
            for (VirtioSerialPortConfig p : bus.ports()) {
                if (p != null && name.equals(p.name())) {
                    throw new UsageException("-device " + driver + ": a port named '" + name + "' already exists");
                }
            }
        }
        int nr;
        if (o.get("nr") != null) {
            nr = o.number(driver, "nr", 0, 0, bus.maxPorts() - 1);
            if (nr == 0 && !console) {
                throw new UsageException("-device virtserialport: port 0 is reserved for a virtconsole (as in QEMU)");
            }
            if (bus.ports()[nr] != null) {
                throw new UsageException("-device " + driver + ": port " + nr + " is already taken");
            }
        } else {
            nr = console && bus.ports()[0] == null ? 0 : 1;
            while (bus.ports()[nr] != null) {
                nr++;
            }
        }
        bus.ports()[nr] = new VirtioSerialPortConfig(nr, console, chardev, name);
    }

    /**
     * QEMU's older boolean spelling, still in scripts and libvirt's older output: a bare "server"
     * is server=on, "nowait" is wait=off, "wait" is wait=on.
     */
    static String legacyFlags(String text) {
        List<String> parts = new ArrayList<>();
        for (String p : text.split(",", -1)) {
            parts.add(switch (p) {
                case "server" -> "server=on";
                case "nowait" -> "wait=off";
                case "wait" -> "wait=on";
                default -> p;
            });
        }
        return String.join(",", parts);
    }

    private static MonitorConfig.Address.Tcp tcp(String what, String host, String port) throws UsageException {
        try {
            int p = Integer.parseInt(port);
            if (p < 0 || p > 65535) {
                throw new NumberFormatException();
            }
            return new MonitorConfig.Address.Tcp(host, p);
        } catch (NumberFormatException e) {
            throw new UsageException(what + ": '" + port + "' is not a TCP port (0-65535)");
        }
    }

    /**
     * {@code -qmp unix:PATH,server=on[,wait=off]} or {@code -qmp tcp:[HOST]:PORT,server=on[,wait=off]}
     * (the old spelling {@code server,nowait} too): a QMP monitor on a socket of its own, labelled
     * compat_monitorN as QEMU does. {@code pretty}: -qmp-pretty.
     */
    void qmp(String option, String text, boolean pretty) throws UsageException {
        monitorGiven = true;
        monitorRequests.add(new Qmp(listeningMonitor(option, text, "compat_monitor" + compatMonitors++, pretty)));
    }

    /** A monitor on a socket of its own, spelt as -qmp's argument; -control takes the same. */
    static MonitorConfig listeningMonitor(String option, String text, String label, boolean pretty) throws UsageException {
        String spec = legacyFlags(text);
        int comma = spec.indexOf(',');
        String where = comma < 0 ? spec : spec.substring(0, comma);
        OptionList o = comma < 0 ? new OptionList(option, null, Map.of()) : OptionList.parse(option, spec.substring(comma + 1), false);
        o.allowOnly(Set.of("server", "wait"), where);
        MonitorConfig.Address address;
        if (where.startsWith("unix:") && where.length() > 5) {
            address = new MonitorConfig.Address.Unix(Path.of(where.substring(5)));
        } else if (where.startsWith("tcp:") && where.lastIndexOf(':') > 3) {
            int colon = where.lastIndexOf(':');
            address = tcp(option + " " + where, where.substring(4, colon), where.substring(colon + 1));
        } else {
            throw new UsageException(option + ": '" + where + "' is not a monitor socket jvisor has "
                + "(expected unix:PATH,server=on,wait=off or tcp:HOST:PORT,server=on,wait=off)");
        }
        if (!o.bool(where, "server", false)) {
            throw new UsageException(option + " " + where + ": jvisor's monitor listens (server=on); "
                + "connecting out to a client is not supported");
        }
        return new MonitorConfig(label, address, o.bool(where, "wait", true), pretty);
    }

    /** {@code -mon chardev=ID,mode=control[,pretty=on][,id=NAME]}: QMP on the socket chardev ID. */
    void mon(String text) throws UsageException {
        OptionList o = OptionList.parse("-mon", text, false);
        o.allowOnly(Set.of("chardev", "mode", "pretty", "id"), "");
        String chardev = o.get("chardev");
        if (chardev == null || chardev.isEmpty()) {
            throw new UsageException("-mon: chardev=ID is required");
        }
        String mode = o.get("mode") == null ? "readline" : o.get("mode");
        monitorGiven = true;
        if (mode.equals("readline")) {
            use(chardev, "-mon");
            humanRequests.add(new HumanMon(chardev, chardev));
            return;
        }
        if (!mode.equals("control")) {
            throw new UsageException("-mon " + text + ": Parameter 'mode' does not accept value '" + mode + "'");   // QEMU's words
        }
        use(chardev, "-mon");
        monitorRequests.add(new Mon(chardev, o.bool("", "pretty", false)));
    }

    /**
     * {@code -monitor stdio|unix:PATH,server=on[,wait=off]|tcp:HOST:PORT,server=on[,wait=off]|chardev:ID|none}:
     * a human monitor, labelled compat_monitorN as QEMU labels it (the count shared with -qmp).
     */
    void monitor(String text) throws UsageException {
        monitorGiven = true;
        if (text.equals("none")) {
            return;
        }
        String label = "compat_monitor" + compatMonitors++;
        if (text.equals("stdio")) {
            humanRequests.add(new HumanMonitorConfig(label, new HumanMonitorConfig.Where.Stdio()));
        } else if (text.startsWith("chardev:") && text.length() > 8) {
            use(text.substring(8), "-monitor");
            humanRequests.add(new HumanMon(text.substring(8), text.substring(8)));
        } else if (text.startsWith("unix:") || text.startsWith("tcp:")) {
            MonitorConfig m = listeningMonitor("-monitor", text, label, false);
            humanRequests.add(new HumanMonitorConfig(label, new HumanMonitorConfig.Where.Socket(m.address(), m.waitForClient())));
        } else {
            String driver = text.contains(":") ? text.substring(0, text.indexOf(':')) : text.split(",")[0];
            // QEMU 7.2's words, then what jvisor has
            throw new UsageException("-monitor " + text + ": '" + driver + "' is not a valid char driver (jvisor's human "
                + "monitor takes stdio, unix:PATH,server=on,wait=off, tcp:HOST:PORT,server=on,wait=off, chardev:ID or none)");
        }
    }

    /** The human monitors, in command-line order (after {@link #finish}). */
    List<HumanMonitorConfig> humanMonitors() {
        return humanMonitors;
    }

    /** Whether a monitor was asked for (-monitor, -qmp, -mon): -nographic then adds none of its own. */
    boolean monitorGiven() {
        return monitorGiven;
    }

    /** The QMP monitors, in command-line order (after {@link #finish}). */
    List<MonitorConfig> monitors() {
        return monitors;
    }

    /** A vhost-user device ({@code -device vhost-user-blk-pci,chardev=ID}) claims the chardev, which must be a socket client. */
    void vhostUserUses(String id, String device) throws UsageException {
        use(id, "-device " + device);
    }

    /** {@code -serial chardev:ID} claims the chardev. */
    void serialUses(SerialConfig serial) throws UsageException {
        if (serial instanceof SerialConfig.Chardev c) {
            use(c.id(), "-serial");
        }
    }

    private void use(String id, String user) throws UsageException {
        String previous = users.putIfAbsent(id, user);
        if (previous != null) {
            throw new UsageException(user + ": chardev '" + id + "' is already in use by " + previous
                + " (a chardev has a single user)");
        }
    }

    /**
     * Checks the whole set and puts each virtio-serial's ports into {@code devices}. Returns
     * the serial configuration: with no -serial or -nographic and a -chardev stdio, COM1 gets none.
     */
    SerialConfig finish(SerialConfig serial, List<VirtioDeviceConfig> devices) throws UsageException {
        return finish(serial, devices, false);
    }

    /**
     * {@link #finish(SerialConfig, List)}; with {@code defaultMonitor} (-nographic with no monitor
     * asked for), the human monitor QEMU adds: on the console shared with the serial port
     * (-serial mon:stdio), or on stdio of its own when the serial port went elsewhere.
     */
    SerialConfig finish(SerialConfig serial, List<VirtioDeviceConfig> devices, boolean defaultMonitor) throws UsageException {
        for (Map.Entry<String, String> u : users.entrySet()) {
            if (!chardevs.containsKey(u.getKey()) && !tcpSockets.containsKey(u.getKey())
                    && !inheritedSockets.containsKey(u.getKey())) {
                throw new UsageException(u.getValue() + ": no -chardev with id '" + u.getKey() + "'");
            }
            boolean monitor = u.getValue().equals("-mon") || u.getValue().equals("-monitor");
            if (inheritedSockets.containsKey(u.getKey()) && !monitor) {
                throw new UsageException(u.getValue() + ": chardev '" + u.getKey() + "' is an inherited socket (fd=), which "
                    + "only a QMP monitor (-mon) can use");
            }
            if (tcpSockets.containsKey(u.getKey()) && !monitor) {
                throw new UsageException(u.getValue() + ": chardev '" + u.getKey() + "' is a TCP socket, which only a "
                    + "QMP monitor (-mon) can use; devices take Unix sockets (path=)");
            }
        }
        for (Map.Entry<String, String> u : users.entrySet()) {
            boolean vhost = u.getValue().startsWith("-device vhost-user-");
            boolean client = chardevs.get(u.getKey()) instanceof ChardevConfig.SocketClient;
            if (vhost && !client) {
                throw new UsageException(u.getValue() + ": chardev '" + u.getKey() + "' must be a socket client "
                    + "(-chardev socket,id=" + u.getKey() + ",path=SOCK): jvisor connects to the vhost-user backend");
            }
            if (!vhost && client) {
                throw new UsageException(u.getValue() + ": chardev '" + u.getKey() + "' is a socket client (server=off), "
                    + "which only vhost-user devices use; give server=on");
            }
        }
        for (ChardevConfig c : chardevs.values()) {
            if (c instanceof ChardevConfig.SocketClient && !users.containsKey(c.id())) {
                throw new UsageException("-chardev socket,id=" + c.id() + ": jvisor connects out (server=off) only for "
                    + "vhost-user devices (-device vhost-user-blk-pci,chardev=" + c.id() + "); other users take only server=on");
            }
        }
        resolveMonitors();
        List<HumanMonitorConfig> human = resolveHumanMonitors();
        List<String> stdio = chardevs.values().stream().filter(c -> c instanceof ChardevConfig.Stdio).map(ChardevConfig::id).toList();
        if (stdio.size() > 1) {
            throw new UsageException("-chardev stdio: stdio can have one user, but ids " + String.join(" and ", stdio) + " both use it");
        }
        long stdioMonitors = human.stream().filter(h -> h.where() instanceof HumanMonitorConfig.Where.Stdio).count();
        if (stdioMonitors > 0 && (stdioMonitors > 1 || !stdio.isEmpty() || serial instanceof SerialConfig.Stdio
                || serial instanceof SerialConfig.MonStdio)) {
            // QEMU 7.2's words (it names -serial stdio when that is the other user)
            throw new UsageException((serial instanceof SerialConfig.Stdio ? "-serial stdio: " : "-monitor stdio: ")
                + "cannot use stdio by multiple character devices (stdio is the serial port's or another monitor's; "
                + "-serial mon:stdio shares it, Ctrl-A c switching)");
        }
        if (serial instanceof SerialConfig.MonStdio) {
            human.add(new HumanMonitorConfig("serial0", new HumanMonitorConfig.Where.SharedConsole()));
        } else if (defaultMonitor && stdio.isEmpty() && !(serial instanceof SerialConfig.Stdio)) {
            // -nographic with the serial port elsewhere: QEMU puts the monitor on stdio alone. Where
            // stdio is already the serial port's (-serial stdio) QEMU refuses the pair; jvisor keeps
            // the console as it always had it and adds no monitor.
            human.add(new HumanMonitorConfig("compat_monitor" + compatMonitors++, new HumanMonitorConfig.Where.Stdio()));
        }
        humanMonitors = List.copyOf(human);
        if (!stdio.isEmpty()) {
            if (serial instanceof SerialConfig.Stdio || serial instanceof SerialConfig.MonStdio) {
                throw new UsageException("-chardev stdio,id=" + stdio.get(0) + ": stdio is already the serial port's "
                    + "(-serial stdio or -nographic); give -serial none, or -serial chardev:" + stdio.get(0));
            }
            if (serial == null) {
                serial = new SerialConfig.None();
            }
        }
        for (Bus b : buses) {
            List<VirtioSerialPortConfig> ports = new ArrayList<>();
            for (VirtioSerialPortConfig p : b.ports()) {
                if (p != null) {
                    ports.add(p);
                }
            }
            devices.set(b.listIndex(), new VirtioDeviceConfig.VirtioSerial(b.maxPorts(), List.copyOf(ports), b.transport()));
        }
        return serial;
    }

    private void resolveMonitors() throws UsageException {
        List<MonitorConfig> list = new ArrayList<>();
        for (MonitorRequest r : monitorRequests) {
            switch (r) {
                case Qmp q -> list.add(q.monitor());
                case Mon mon -> list.add(resolve(mon));
            }
        }
        for (String id : inheritedSockets.keySet()) {
            if (!users.containsKey(id)) {
                throw new UsageException("-chardev socket,id=" + id + ": an inherited socket (fd=) is only supported "
                    + "for a QMP monitor (-mon chardev=" + id + ",mode=control)");
            }
        }
        for (String id : tcpSockets.keySet()) {
            if (!users.containsKey(id)) {
                throw new UsageException("-chardev socket,id=" + id + ": a TCP socket (host=, port=) is only supported "
                    + "for a QMP monitor (-mon chardev=" + id + ",mode=control)");
            }
        }
        monitors = List.copyOf(list);
    }

    /** The human monitors with their chardevs resolved: a chardev a monitor uses is the monitor's alone. */
    private List<HumanMonitorConfig> resolveHumanMonitors() throws UsageException {
        List<HumanMonitorConfig> list = new ArrayList<>();
        for (Object r : humanRequests) {
            if (r instanceof HumanMonitorConfig h) {
                list.add(h);
                continue;
            }
            HumanMon m = (HumanMon) r;
            MonitorConfig.Address.Tcp tcp = tcpSockets.get(m.chardev());
            if (tcp != null) {
                list.add(new HumanMonitorConfig(m.label(), new HumanMonitorConfig.Where.Socket(tcp, waits.get(m.chardev()))));
            } else if (inheritedSockets.containsKey(m.chardev())) {
                throw new UsageException("-mon chardev=" + m.chardev() + ": an inherited socket (fd=) is for QMP monitors only "
                    + "(mode=control)");
            } else if (chardevs.get(m.chardev()) instanceof ChardevConfig.Socket s) {
                chardevs.remove(m.chardev());
                list.add(new HumanMonitorConfig(m.label(), new HumanMonitorConfig.Where.Socket(
                    new MonitorConfig.Address.Unix(s.path()), s.waitForClient())));
            } else if (chardevs.get(m.chardev()) instanceof ChardevConfig.Stdio) {
                chardevs.remove(m.chardev());
                list.add(new HumanMonitorConfig(m.label(), new HumanMonitorConfig.Where.Stdio()));
            } else {
                throw new UsageException("-mon chardev=" + m.chardev() + ": a human monitor needs a stdio or socket server "
                    + "chardev (-chardev socket,id=" + m.chardev() + ",path=PATH,server=on,wait=off)");
            }
        }
        return list;
    }

    /** A -mon on its socket chardev, which the monitor takes from the devices' list. */
    private MonitorConfig resolve(Mon mon) throws UsageException {
        MonitorConfig.Address.Tcp tcp = tcpSockets.get(mon.chardev());
        if (tcp != null) {
            return new MonitorConfig(mon.chardev(), tcp, waits.get(mon.chardev()), mon.pretty());
        }
        MonitorConfig.Address.Inherited inherited = inheritedSockets.get(mon.chardev());
        if (inherited != null) {
            return new MonitorConfig(mon.chardev(), inherited, waits.get(mon.chardev()), mon.pretty());
        }
        if (chardevs.get(mon.chardev()) instanceof ChardevConfig.Socket s) {
            chardevs.remove(mon.chardev());
            return new MonitorConfig(mon.chardev(), new MonitorConfig.Address.Unix(s.path()), s.waitForClient(), mon.pretty());
        }
        throw new UsageException("-mon chardev=" + mon.chardev() + ": a QMP monitor needs a socket server "
            + "(-chardev socket,id=" + mon.chardev() + ",path=PATH,server=on,wait=off, or host=,port=)");
    }

    List<ChardevConfig> chardevs() {
        return List.copyOf(chardevs.values());
    }

    private static String required(OptionList o, String backend, String key) throws UsageException {
        String v = o.get(key);
        if (v == null || v.isEmpty()) {
            throw new UsageException("-chardev " + backend + ": " + key + "=... is required");
        }
        return v;
    }
}
