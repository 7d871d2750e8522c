package org.jvisor.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.jvisor.devices.virtio.VirtioConsole;
import org.jvisor.config.MachineConfig;
import org.jvisor.config.MachineConfig.ChardevConfig;
import org.jvisor.config.MachineConfig.Transport;
import org.jvisor.config.MachineConfig.VirtioDeviceConfig;
import org.jvisor.config.MachineConfig.SerialConfig;
import org.jvisor.config.MachineConfig.VirtioSerialPortConfig;

/**
 * QEMU's -chardev and the virtio-serial devices (-device virtio-serial-pci, virtconsole,
 * virtserialport), collected across the command line and checked together at the end: every
 * chardev id is defined once and used once, stdio has one user, every port sits on a
 * virtio-serial (-pci or -device) with a free port number.
 */
final class ChardevOptions {
    private static final Set<String> PORT_DEVICES = Set.of("virtconsole", "virtserialport");

    private final Map<String, ChardevConfig> chardevs = new LinkedHashMap<>();
    private final List<Bus> buses = new ArrayList<>();
    /** Who uses each chardev id, for the one-user rule: "-device virtconsole", "-serial". */
    private final Map<String, String> users = new LinkedHashMap<>();

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
        OptionList o = OptionList.parse("-chardev", text, true);
        String backend = o.implied() != null ? o.implied() : o.get("backend");
        if (backend == null) {
            throw new UsageException("-chardev: no backend given (expected stdio, file, socket or null)");
        }
        String id = o.get("id");
        if (id == null || id.isEmpty()) {
            throw new UsageException("-chardev " + backend + ": id=ID is required");
        }
        if (chardevs.containsKey(id)) {
            throw new UsageException("-chardev: duplicate id '" + id + "'");
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
                yield new ChardevConfig.File(id, Path.of(required(o, backend, "path")), bool(o, backend, "append", false));
            }
            case "socket" -> {
                if (o.get("host") != null || o.get("port") != null) {
                    throw new UsageException("-chardev socket: only Unix sockets (path=PATH) are supported, not TCP (host=, port=)");
                }
                o.allowOnly(Set.of("backend", "id", "path", "server", "wait"), backend);
                String path = required(o, backend, "path");
                if (!bool(o, backend, "server", false)) {
                    throw new UsageException("-chardev socket: only server=on (jvisor listens on path=) is supported");
                }
                yield new ChardevConfig.Socket(id, Path.of(path), bool(o, backend, "wait", true));
            }
            case "null" -> {
                o.allowOnly(Set.of("backend", "id"), backend);
                yield new ChardevConfig.Null(id);
            }
            default -> throw new UsageException("-chardev: '" + backend
                + "' is not a character device backend jvisor has (known: stdio, file, socket, null)");
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
            int max = number(o, driver, "max_ports", VirtioConsole.DEFAULT_MAX_PORTS, 1, VirtioConsole.MAX_PORTS_LIMIT);
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
            nr = number(o, driver, "nr", 0, 0, bus.maxPorts() - 1);
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
        for (Map.Entry<String, String> u : users.entrySet()) {
            if (!chardevs.containsKey(u.getKey())) {
                throw new UsageException(u.getValue() + ": no -chardev with id '" + u.getKey() + "'");
            }
        }
        List<String> stdio = chardevs.values().stream().filter(c -> c instanceof ChardevConfig.Stdio).map(ChardevConfig::id).toList();
        if (stdio.size() > 1) {
            throw new UsageException("-chardev stdio: stdio can have one user, but ids " + String.join(" and ", stdio) + " both use it");
        }
        if (!stdio.isEmpty()) {
            if (serial instanceof SerialConfig.Stdio) {
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

    /** QEMU's booleans: on/off, yes/no, true/false. */
    private static boolean bool(OptionList o, String what, String key, boolean dflt) throws UsageException {
        String v = o.get(key);
        if (v == null) {
            return dflt;
        }
        return switch (v) {
            case "on", "yes", "true" -> true;
            case "off", "no", "false" -> false;
            default -> throw new UsageException(o.option() + " " + what + ": " + key + "='" + v + "' (expected on or off)");
        };
    }

    private static int number(OptionList o, String what, String key, int dflt, int min, int max) throws UsageException {
        String v = o.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(v);
            if (n < min || n > max) {
                throw new UsageException("-device " + what + ": " + key + "=" + v + " is out of range (" + min + "-" + max + ")");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("-device " + what + ": " + key + "='" + v + "' is not a number");
        }
    }
}
