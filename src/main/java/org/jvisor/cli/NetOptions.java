package org.jvisor.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jvisor.config.MacAddress;
import org.jvisor.config.MachineConfig;

/** QEMU's -netdev tap|stream|user,... and -device virtio-net-pci,... options, with QEMU's checks and messages. */
final class NetOptions {
    private NetOptions() {
    }

    /** The backends -netdev takes, as its messages list them. */
    private static final String KNOWN = "tap, stream, user";

    /**
     * -netdev tap|stream|user,id=ID,...: the backend's own properties are checked by its parser;
     * ids are unique as QEMU requires.
     */
    static MachineConfig.NetdevConfig parseNetdev(String text, List<MachineConfig.NetdevConfig> earlier) throws UsageException {
        return parseNetdev(text, earlier, COMMAND_LINE_FDS);
    }

    /**
     * QEMU 7.2's monitor_fd_param (monitor/misc.c): what tap's fd= and vhostfd= name, to a
     * descriptor number of this process, which the caller then owns.
     */
    @FunctionalInterface
    interface FdParam {
        int resolve(String value) throws UsageException;
    }

    /**
     * On the command line there is no monitor, so fd= is a number (an inherited descriptor),
     * checked as qemu_parse_fd does; QEMU 7.2 takes no /dev/fdset/N there either (verified:
     * "Invalid file descriptor number '/dev/fdset/3'").
     */
    static final FdParam COMMAND_LINE_FDS = NetOptions::fdNumber;

    /** qemu_parse_fd: a decimal number from 0 to INT_MAX, nothing else. */
    static int fdNumber(String value) throws UsageException {
        if (value.matches("[0-9]{1,10}")) {
            long n = Long.parseLong(value);
            if (n <= Integer.MAX_VALUE) {
                return (int) n;
            }
        }
        throw new UsageException("Invalid file descriptor number '" + value + "'");
    }

    /** As {@link #parseNetdev(String, List)}, tap's fd= and vhostfd= resolved by {@code fds} (netdev_add's monitor). */
    static MachineConfig.NetdevConfig parseNetdev(String text, List<MachineConfig.NetdevConfig> earlier, FdParam fds)
            throws UsageException {
        List<String> hostfwds = new ArrayList<>();
        // The JSON spelling is libvirt's (its passt backend gives {"type":"stream","addr":{"type":"unix",...}}).
        OptionList o = JsonOptions.isJson(text) ? JsonOptions.parse("-netdev", text, "type")
            : OptionList.parse("-netdev", withoutRepeated(text, "hostfwd", hostfwds), true);
        String type = o.implied() != null ? o.implied() : o.get("type");
        if (type == null) {
            throw new UsageException("-netdev " + text + ": no backend type given (jvisor has: " + KNOWN + ")");
        }
        if (!hostfwds.isEmpty() && !type.equals("user")) {
            throw new UsageException("-netdev " + text + ": hostfwd is a property of -netdev user, not " + type);
        }
        String id = o.get("id");
        if (id == null || id.isEmpty()) {
            throw new UsageException("-netdev " + text + ": Parameter 'id' is missing");
        }
        for (MachineConfig.NetdevConfig n : earlier) {
            if (n.id().equals(id)) {
                throw new UsageException("-netdev " + text + ": Duplicate ID '" + id + "' for netdev");
            }
        }
        return switch (type) {
            case "tap" -> o.get("fd") != null || o.get("fds") != null ? tapFd(text, o, id, fds) : tap(text, o, id);
            case "stream" -> stream(text, o, id);
            case "user" -> user(text, o, id, hostfwds);
            default -> throw new UsageException("-netdev " + text + ": '" + type
                + "' is not a network backend jvisor has (known: " + KNOWN + ")");
        };
    }

    /**
     * {@code text} without its {@code key=...} elements, whose values go to {@code values}: QEMU
     * takes hostfwd (a list in its schema) any number of times.
     */
    private static String withoutRepeated(String text, String key, List<String> values) {
        StringBuilder rest = new StringBuilder();
        for (String part : text.split(",", -1)) {
            if (part.startsWith(key + "=")) {
                values.add(part.substring(key.length() + 1));
            } else {
                rest.append(rest.isEmpty() ? "" : ",").append(part);
            }
        }
        return rest.toString();
    }

    /** Properties of -netdev tap jvisor takes (the others, such as helper= or sndbuf=, are refused by name). */
    private static final Set<String> TAP_KEYS = Set.of("type", "id", "ifname", "script", "downscript", "fd", "fds", "vhost",
        "vhostfd", "vhostfds", "vhostforce", "queues", "vnet_hdr");

    /**
     * -netdev tap,id=ID[,ifname=NAME][,script=no][,downscript=no][,vhost=off]: jvisor never runs
     * scripts, and has no vhost-net.
     */
    private static MachineConfig.NetdevConfig tap(String text, OptionList o, String id) throws UsageException {
        o.allowOnly(TAP_KEYS, "tap");
        for (String k : List.of("vhostfd", "vhostfds", "vhostforce", "queues", "vnet_hdr")) {
            if (o.get(k) != null) {
                throw new UsageException("-netdev " + text + ": " + k + "= is not supported with ifname= (jvisor opens the tap"
                    + " itself, one queue pair with its virtio-net header, and has no vhost-net)");
            }
        }
        if (o.bool("tap", "vhost", false)) {
            throw new UsageException("-netdev " + text + ": vhost=on: jvisor has no vhost-net; its virtio-net serves the tap"
                + " itself (leave vhost= out, or vhost=off)");
        }
        for (String script : List.of("script", "downscript")) {
            String v = o.get(script);
            if (v != null && !v.equals("no")) {
                throw new UsageException("-netdev " + text + ": " + script + "=" + v
                    + ": jvisor does not run scripts; configure the tap beforehand (ip tuntap add, ip link set up) and give "
                    + script + "=no");
            }
        }
        String ifname = o.get("ifname");
        return new MachineConfig.NetdevConfig.Tap(id, ifname == null || ifname.isEmpty() ? null : ifname);
    }

    /**
     * -netdev tap,id=ID,fd=N|fds=N[,vhost=on|off][,vhostfd=M|vhostfds=M][,vhostforce=on|off]: a
     * tap libvirt opened and passed (inherited, or from netdev_add a getfd name), with QEMU 7.2's
     * checks and words (net/tap.c net_init_tap, verified against qemu-system-x86_64 7.2).
     * jvisor's virtio-net has one queue pair, so fds= takes one descriptor. vhost-net, which jvisor
     * does not have, is asked for by vhost=on or a vhostfd= (libvirt 9.0 sends both when
     * /dev/vhost-net opens and the domain is type='kvm'): QEMU then warns and serves the tap in
     * user space unless vhostforce=on, and so does jvisor; vhostforce=on is refused.
     */
    private static MachineConfig.NetdevConfig tapFd(String text, OptionList o, String id, FdParam fds) throws UsageException {
        o.allowOnly(TAP_KEYS, "tap");
        String bad = "-netdev " + text + ": ";
        String fdText;
        String vhostFdText;
        if (o.get("fd") != null) {
            for (String k : List.of("ifname", "script", "downscript", "vnet_hdr", "queues", "fds", "vhostfds")) {
                if (o.get(k) != null) {
                    throw new UsageException(bad + "ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and vhostfds= "
                        + "are invalid with fd=");
                }
            }
            fdText = o.get("fd");
            vhostFdText = o.get("vhostfd");
        } else {
            for (String k : List.of("ifname", "script", "downscript", "vnet_hdr", "vhostfd")) {
                if (o.get(k) != null) {
                    throw new UsageException(bad + "ifname=, script=, downscript=, vnet_hdr=, helper=, and vhostfd= are invalid with fds=");
                }
            }
            String[] list = o.get("fds").split(":", -1);
            String[] vhostList = o.get("vhostfds") == null ? null : o.get("vhostfds").split(":", -1);
            if (vhostList != null && vhostList.length != list.length) {
                throw new UsageException(bad + "The number of fds passed does not match the number of vhostfds passed");
            }
            if (list.length > 1 || (o.get("queues") != null && !o.get("queues").equals("1"))) {
                throw new UsageException(bad + "jvisor's virtio-net has one queue pair: a multiqueue tap (" + list.length
                    + " descriptors) is not supported; pass one (libvirt: no queues= in the interface's <driver>)");
            }
            fdText = list[0];
            vhostFdText = vhostList == null ? null : vhostList[0];
        }
        boolean vhost = o.values().containsKey("vhost") ? o.bool("tap", "vhost", false)
            : vhostFdText != null || o.bool("tap", "vhostforce", false);
        if (!vhost && vhostFdText != null) {
            throw new UsageException(bad + "vhostfd(s)= is not valid without vhost");
        }
        if (vhost && o.bool("tap", "vhostforce", false)) {
            throw new UsageException(bad + "vhostforce=on: jvisor has no vhost-net and serves the tap itself; leave out"
                + " vhostforce (libvirt: <driver name='qemu'/> in the <interface> turns vhost-net off)");
        }
        int fd;
        try {
            fd = fds.resolve(fdText);
        } catch (UsageException e) {
            throw new UsageException(bad + e.getMessage(), e);
        }
        int vhostFd = -1;
        if (vhostFdText != null) {
            try {
                vhostFd = fds.resolve(vhostFdText);
            } catch (UsageException e) {
                // QEMU 7.2 only warns when vhost's descriptor cannot be had (without vhostforce),
                // and jvisor would not use it: the machine's warning about vhost-net says enough
            }
        }
        return new MachineConfig.NetdevConfig.TapFd(id, fd, vhost, vhostFd);
    }

    /**
     * -netdev stream,id=ID[,server=on|off],addr.type=unix,addr.path=PATH | addr.type=inet,
     * addr.host=HOST,addr.port=PORT | addr.type=fd,addr.str=N: QEMU 7.2's spelling (its
     * NetdevStreamOptions with a flattened SocketAddress), without 8.0's reconnect.
     */
    private static MachineConfig.NetdevConfig stream(String text, OptionList o, String id) throws UsageException {
        o.allowOnly(Set.of("type", "id", "server", "addr.type", "addr.path", "addr.host", "addr.port", "addr.str"), "stream");
        boolean server = o.bool("stream", "server", false);
        String addrType = o.get("addr.type");
        if (addrType == null) {
            throw new UsageException("-netdev " + text + ": Parameter 'addr' is missing (addr.type=unix|inet|fd with"
                + " addr.path, addr.host and addr.port, or addr.str)");
        }
        MachineConfig.StreamAddress address = switch (addrType) {
            case "unix" -> {
                only(text, o, "addr.path", "addr.host", "addr.port", "addr.str");
                String path = required(text, o, "addr.path");
                yield new MachineConfig.StreamAddress.Unix(Path.of(path));
            }
            case "inet" -> {
                only(text, o, "addr.host", "addr.path", "addr.str");
                only(text, o, "addr.port", "addr.path", "addr.str");
                String host = required(text, o, "addr.host");
                String port = required(text, o, "addr.port");
                yield new MachineConfig.StreamAddress.Inet(host, port(text, "addr.port", port, server ? 0 : 1));
            }
            case "fd" -> {
                only(text, o, "addr.str", "addr.path", "addr.host", "addr.port");
                String str = required(text, o, "addr.str");
                int fd;
                try {
                    fd = Integer.parseInt(str);
                } catch (NumberFormatException e) {
                    fd = -1;
                }
                if (fd < 0) {
                    throw new UsageException("-netdev " + text + ": addr.str='" + str
                        + "' is not a descriptor number (jvisor takes inherited descriptors by number)");
                }
                yield new MachineConfig.StreamAddress.Fd(fd);
            }
            default -> throw new UsageException("-netdev " + text + ": Parameter 'addr.type' does not accept value '"
                + addrType + "' (unix, inet or fd)");
        };
        return new MachineConfig.NetdevConfig.Stream(id, server, address);
    }

    /** {@code key} is required: QEMU's message for a missing member. */
    private static String required(String text, OptionList o, String key) throws UsageException {
        String v = o.get(key);
        if (v == null || v.isEmpty()) {
            throw new UsageException("-netdev " + text + ": Parameter '" + key + "' is missing");
        }
        return v;
    }

    /** With {@code key} given, none of {@code others} (members of another addr.type) may be. */
    private static void only(String text, OptionList o, String key, String... others) throws UsageException {
        for (String other : others) {
            if (o.get(other) != null) {
                throw new UsageException("-netdev " + text + ": " + other + " does not go with addr.type=" + o.get("addr.type")
                    + " (which takes " + key + ")");
            }
        }
    }

    private static int port(String text, String what, String v, int min) throws UsageException {
        try {
            int p = Integer.parseInt(v);
            if (p >= min && p <= 65535) {
                return p;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new UsageException("-netdev " + text + ": " + what + "='" + v + "' is not a port number (" + min + "-65535)");
    }

    /**
     * -netdev user,id=ID[,ipv4=on|off][,ipv6=on|off][,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...: QEMU's
     * slirp options, served by passt; what passt cannot do (a chosen guest address, QEMU's
     * 10.0.2.0/24 layout options) is refused by name.
     */
    private static MachineConfig.NetdevConfig user(String text, OptionList o, String id, List<String> hostfwds) throws UsageException {
        for (String k : o.values().keySet()) {
            if (!Set.of("type", "id", "ipv4", "ipv6").contains(k)) {
                throw new UsageException("-netdev " + text + ": property '" + k + "' of -netdev user is not supported"
                    + " (jvisor's user networking is passt: the guest gets the host's address and gateway by DHCP;"
                    + " known: id, ipv4, ipv6, hostfwd)");
            }
        }
        boolean ipv4 = o.bool("user", "ipv4", true);
        boolean ipv6 = o.bool("user", "ipv6", true);
        if (!ipv4 && !ipv6) {
            throw new UsageException("-netdev " + text + ": ipv4=off and ipv6=off leave the guest no network");
        }
        List<MachineConfig.HostForward> forwards = new ArrayList<>();
        for (String rule : hostfwds) {
            forwards.add(hostForward(text, rule));
        }
        return new MachineConfig.NetdevConfig.User(id, List.copyOf(forwards), ipv4, ipv6);
    }

    /** QEMU's hostfwd rule: [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (protocol tcp when empty). */
    static MachineConfig.HostForward hostForward(String text, String rule) throws UsageException {
        String bad = "-netdev " + text + ": hostfwd=" + rule + ": ";
        int dash = rule.indexOf('-');
        if (dash < 0) {
            throw new UsageException(bad + "expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT");
        }
        String[] host = rule.substring(0, dash).split(":", -1);
        String[] guest = rule.substring(dash + 1).split(":", -1);
        if (host.length != 3 || guest.length != 2) {
            throw new UsageException(bad + "expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT");
        }
        boolean udp = switch (host[0]) {
            case "", "tcp" -> false;
            case "udp" -> true;
            default -> throw new UsageException(bad + "protocol '" + host[0] + "' (tcp or udp)");
        };
        if (!guest[0].isEmpty()) {
            throw new UsageException(bad + "a guest address cannot be chosen: passt forwards to the guest's one address"
                + " (write hostfwd=" + host[0] + ":" + host[1] + ":" + host[2] + "-:" + guest[1] + ")");
        }
        String hostAddr = host[1].isEmpty() ? null : host[1];
        if (hostAddr != null && !hostAddr.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}")) {
            throw new UsageException(bad + "host address '" + hostAddr + "' is not a numeric IPv4 address");
        }
        return new MachineConfig.HostForward(udp, hostAddr, port(text, "hostfwd host port", host[2], 1),
            port(text, "hostfwd guest port", guest[1], 1));
    }

    /**
     * QEMU's -nic TYPE[,netdev options][,model=M][,mac=MAC]: a -netdev and its NIC in one option,
     * the netdev named as QEMU names it (__org.qemu.nicN). jvisor's NIC is virtio-net, on the
     * machine's own transport unless the model says (QEMU's default e1000 is not emulated, so no
     * model means virtio too); {@code -nic none} adds nothing. The NIC, or null for none; its
     * transport null while the machine is not known.
     */
    static MachineConfig.VirtioDeviceConfig.VirtioNet parseNicOption(String text, List<MachineConfig.NetdevConfig> netdevs)
            throws UsageException {
        if (text.equals("none")) {
            return null;
        }
        String model = null;
        String mac = null;
        StringBuilder rest = new StringBuilder();
        for (String part : text.split(",", -1)) {
            if (part.startsWith("model=")) {
                model = part.substring(6);
            } else if (part.startsWith("mac=")) {
                mac = part.substring(4);
            } else if (part.startsWith("id=")) {
                throw new UsageException("-nic " + text + ": -nic takes no id (QEMU names its netdev __org.qemu.nicN)");
            } else {
                rest.append(rest.isEmpty() ? "" : ",").append(part);
            }
        }
        MachineConfig.Transport transport = switch (model == null ? "virtio" : model) {
            case "virtio", "virtio-net" -> null;
            case "virtio-net-pci" -> MachineConfig.Transport.PCI;
            case "virtio-net-device" -> MachineConfig.Transport.MMIO;
            default -> throw new UsageException("-nic " + text + ": model=" + model
                + " is not a NIC jvisor has (model=virtio: virtio-net-pci, or virtio-net-device on microvm)");
        };
        String id = "__org.qemu.nic" + netdevs.stream().filter(n -> n.id().startsWith("__org.qemu.nic")).count();
        String options = rest.toString();
        int comma = options.indexOf(',');
        String type = comma < 0 ? options : options.substring(0, comma);
        if (type.isEmpty() || type.contains("=")) {
            throw new UsageException("-nic " + text + ": the first element is the backend type (" + KNOWN + ")");
        }
        netdevs.add(parseNetdev(type + ",id=" + id + options.substring(type.length()), netdevs));
        MacAddress m = null;
        if (mac != null) {
            try {
                m = MacAddress.parse(mac);
            } catch (IllegalArgumentException e) {
                throw new UsageException("-nic " + text + ": mac=" + mac + ": " + e.getMessage());
            }
        }
        return new MachineConfig.VirtioDeviceConfig.VirtioNet(id, m, transport);
    }

    /** -device virtio-net-pci|virtio-net-device,netdev=ID[,mac=52:54:00:xx:xx:xx]. */
    static MachineConfig.VirtioDeviceConfig.VirtioNet parseNic(OptionList o, MachineConfig.Transport transport)
            throws UsageException {
        o.allowOnly(Set.of("netdev", "mac"), o.implied());
        String netdev = o.get("netdev");
        if (netdev == null || netdev.isEmpty()) {
            throw new UsageException("-device " + o.implied() + ": netdev=ID is required (a -netdev tap|stream|user,id=ID to connect it to)");
        }
        MacAddress mac = null;
        if (o.get("mac") != null) {
            try {
                mac = MacAddress.parse(o.get("mac"));
            } catch (IllegalArgumentException e) {
                throw new UsageException("-device " + o.implied() + ": mac=" + o.get("mac") + ": " + e.getMessage());
            }
        }
        return new MachineConfig.VirtioDeviceConfig.VirtioNet(netdev, mac, transport);
    }

    /** Every NIC names a -netdev that exists and no other NIC uses. */
    static void checkPeers(List<MachineConfig.NetdevConfig> netdevs, List<MachineConfig.VirtioDeviceConfig> devices)
            throws UsageException {
        Set<String> used = new HashSet<>();
        for (MachineConfig.VirtioDeviceConfig d : devices) {
            if (d instanceof MachineConfig.VirtioDeviceConfig.VirtioNet nic) {
                String id = nic.netdevId();
                if (netdevs.stream().noneMatch(n -> n.id().equals(id))) {
                    throw new UsageException("-device " + nic.qemuName() + ",netdev=" + id + ": no -netdev with id=" + id);
                }
                if (!used.add(id)) {
                    throw new UsageException("-device " + nic.qemuName() + ",netdev=" + id + ": netdev '" + id
                        + "' is in use by another NIC (one NIC per -netdev)");
                }
            }
        }
    }
}
