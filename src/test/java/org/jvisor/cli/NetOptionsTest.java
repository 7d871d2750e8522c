package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.jvisor.config.MacAddress;
import org.jvisor.config.MachineConfig;

/** -netdev tap|stream|user and -device virtio-net-pci: QEMU's spelling, QEMU's checks. */
class NetOptionsTest {
    private static final String TAP = "tap,id=n1,ifname=tap7,script=no,downscript=no";

    private static MachineConfig parse(String... args) throws UsageException {
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "-kernel";
        all[args.length + 1] = "k";
        return ((CommandLine.Action.Run) CommandLine.parse(all)).config();
    }

    private static String error(String... args) {
        return assertThrows(UsageException.class, () -> parse(args)).getMessage();
    }

    @Test
    void tapAndNicAsQemuSpellsThem() throws UsageException {
        MachineConfig c = parse("-device", "virtio-net-pci,netdev=n1,mac=52:54:00:00:00:2a", "-netdev", TAP);
        assertEquals(List.of(new MachineConfig.NetdevConfig.Tap("n1", "tap7")), c.netdevs());
        assertEquals(List.of(new MachineConfig.VirtioDeviceConfig.VirtioNet("n1", new MacAddress(0x5254_0000_002aL),
            MachineConfig.Transport.PCI)), c.virtioDevices());
        MachineConfig d = parse("-netdev", "tap,id=x", "-device", "virtio-net-pci,netdev=x");
        assertNull(((MachineConfig.NetdevConfig.Tap) d.netdevs().get(0)).ifname(), "no ifname: the kernel names the tap");
        assertNull(((MachineConfig.VirtioDeviceConfig.VirtioNet) d.virtioDevices().get(0)).mac(), "default MAC");
        MachineConfig m = parse("-M", "microvm", "-netdev", "tap,id=x", "-device", "virtio-net-device,netdev=x");
        assertEquals(MachineConfig.Transport.MMIO, m.virtioDevices().get(0).transport());
    }

    @Test
    void qemusErrors() {
        assertTrue(error("-netdev", "tap,ifname=tap0").contains("Parameter 'id' is missing"));
        assertTrue(error("-netdev", TAP, "-netdev", "tap,id=n1,ifname=tap8").contains("Duplicate ID 'n1' for netdev"));
        assertTrue(error("-netdev", TAP, "-device", "virtio-net-pci,netdev=n2").contains("no -netdev with id=n2"));
        assertTrue(error("-netdev", TAP, "-device", "virtio-net-pci,netdev=n1", "-device", "virtio-net-pci,netdev=n1")
            .contains("netdev 'n1' is in use"));
        assertTrue(error("-netdev", "socket,id=u").contains("'socket' is not a network backend jvisor has (known: tap, stream, user)"));
        assertTrue(error("-netdev", "tap,id=n1,sndbuf=3").contains("unknown property 'sndbuf'"));
        assertTrue(error("-device", "virtio-net-pci").contains("netdev=ID is required"));
        assertTrue(error("-netdev", "tap,id=x", "-device", "virtio-net-device,netdev=x").contains("(use virtio-net-pci)"));
    }

    @Test
    void scriptsAreRefused() {
        String e = error("-netdev", "tap,id=n1,script=/etc/qemu-ifup");
        assertTrue(e.contains("jvisor does not run scripts") && e.contains("script=no"), e);
        assertTrue(error("-netdev", "tap,id=n1,script=no,downscript=/etc/qemu-ifdown").contains("downscript=/etc/qemu-ifdown"));
    }

    @Test
    void macAddressesAreChecked() {
        assertTrue(error("-netdev", TAP, "-device", "virtio-net-pci,netdev=n1,mac=01:00:5e:00:00:01").contains("multicast"));
        assertTrue(error("-netdev", TAP, "-device", "virtio-net-pci,netdev=n1,mac=52:54:00:00:00").contains("6 octets"));
        assertTrue(error("-netdev", TAP, "-device", "virtio-net-pci,netdev=n1,mac=52:54:00:00:00:zz").contains("'zz'"));
        assertEquals("52:54:00:12:34:57", MacAddress.QEMU_DEFAULT.plus(1).toString());
    }

    @Test
    void streamAsQemu72SpellsIt() throws UsageException {
        var unix = parse("-netdev", "stream,id=s,server=on,addr.type=unix,addr.path=/tmp/x.sock",
            "-device", "virtio-net-pci,netdev=s").netdevs().get(0);
        assertEquals(new MachineConfig.NetdevConfig.Stream("s", true,
            new MachineConfig.StreamAddress.Unix(java.nio.file.Path.of("/tmp/x.sock"))), unix);
        var inet = parse("-netdev", "stream,id=s,addr.type=inet,addr.host=127.0.0.1,addr.port=5555",
            "-device", "virtio-net-pci,netdev=s").netdevs().get(0);
        assertEquals(new MachineConfig.NetdevConfig.Stream("s", false,
            new MachineConfig.StreamAddress.Inet("127.0.0.1", 5555)), inet, "server defaults to off");
        var fd = parse("-netdev", "stream,id=s,server=off,addr.type=fd,addr.str=7", "-device", "virtio-net-pci,netdev=s")
            .netdevs().get(0);
        assertEquals(new MachineConfig.NetdevConfig.Stream("s", false, new MachineConfig.StreamAddress.Fd(7)), fd);
    }

    @Test
    void badStreamOptionsAreNamed() {
        assertTrue(error("-netdev", "stream,id=s,server=on").contains("Parameter 'addr' is missing"));
        assertTrue(error("-netdev", "stream,id=s,addr.type=unix").contains("Parameter 'addr.path' is missing"));
        assertTrue(error("-netdev", "stream,id=s,addr.type=vsock,addr.cid=3").contains("unknown property 'addr.cid'"));
        assertTrue(error("-netdev", "stream,id=s,addr.type=vsock").contains("Parameter 'addr.type' does not accept value 'vsock'"));
        assertTrue(error("-netdev", "stream,id=s,addr.type=inet,addr.host=h,addr.port=70000").contains("is not a port number"));
        assertTrue(error("-netdev", "stream,id=s,addr.type=unix,addr.path=p,addr.port=1").contains("addr.port does not go with"));
        assertTrue(error("-netdev", "stream,id=s,addr.type=fd,addr.str=sock0").contains("is not a descriptor number"));
        assertTrue(error("-netdev", "stream,id=s,reconnect=1,addr.type=unix,addr.path=p").contains("unknown property 'reconnect'"),
            "7.2 has no reconnect");
    }

    @Test
    void userWithHostForwards() throws UsageException {
        var u = parse("-netdev", "user,id=u,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:5353-:53",
            "-device", "virtio-net-pci,netdev=u").netdevs().get(0);
        assertEquals(new MachineConfig.NetdevConfig.User("u", List.of(
            new MachineConfig.HostForward(false, null, 2222, 22),
            new MachineConfig.HostForward(true, "127.0.0.1", 5353, 53))), u);
        var plain = parse("-netdev", "user,id=u", "-device", "virtio-net-pci,netdev=u").netdevs().get(0);
        assertEquals(new MachineConfig.NetdevConfig.User("u", List.of()), plain);
        var v4 = parse("-netdev", "user,id=u,ipv6=off", "-device", "virtio-net-pci,netdev=u").netdevs().get(0);
        assertEquals(new MachineConfig.NetdevConfig.User("u", List.of(), true, false), v4);
        assertTrue(error("-netdev", "user,id=u,ipv4=off,ipv6=off").contains("leave the guest no network"));
    }

    @Test
    void whatPasstCannotDoIsRefusedByName() {
        assertTrue(error("-netdev", "user,id=u,hostfwd=tcp::2222-10.0.2.15:22").contains("a guest address cannot be chosen"));
        assertTrue(error("-netdev", "user,id=u,hostfwd=sctp::1-:2").contains("protocol 'sctp'"));
        assertTrue(error("-netdev", "user,id=u,hostfwd=tcp::2222").contains("expected [tcp|udp]"));
        assertTrue(error("-netdev", "user,id=u,hostfwd=tcp:myhost:1-:2").contains("not a numeric IPv4 address"));
        assertTrue(error("-netdev", "user,id=u,net=10.0.2.0/24").contains("property 'net' of -netdev user is not supported"));
        assertTrue(error("-netdev", "tap,id=t,hostfwd=tcp::1-:2").contains("hostfwd is a property of -netdev user"));
    }

    @Test
    void nicIsANetdevAndAVirtioNicInOneOption() throws UsageException {
        MachineConfig c = parse("-nic", "user,hostfwd=tcp::2222-:22,mac=52:54:00:00:00:09", "-nic", "none",
            "-nic", "stream,addr.type=unix,addr.path=/tmp/s,model=virtio-net-pci");
        assertEquals(List.of(
            new MachineConfig.NetdevConfig.User("__org.qemu.nic0", List.of(new MachineConfig.HostForward(false, null, 2222, 22))),
            new MachineConfig.NetdevConfig.Stream("__org.qemu.nic1", false,
                new MachineConfig.StreamAddress.Unix(java.nio.file.Path.of("/tmp/s")))), c.netdevs());
        assertEquals(List.of(
            new MachineConfig.VirtioDeviceConfig.VirtioNet("__org.qemu.nic0", MacAddress.parse("52:54:00:00:00:09"),
                MachineConfig.Transport.PCI),
            new MachineConfig.VirtioDeviceConfig.VirtioNet("__org.qemu.nic1", null, MachineConfig.Transport.PCI)),
            c.virtioDevices());
        MachineConfig micro = parse("-M", "microvm", "-nic", "user");
        assertEquals(MachineConfig.Transport.MMIO, micro.virtioDevices().get(0).transport(), "the machine's own transport");
        assertTrue(error("-nic", "user,model=e1000").contains("model=e1000 is not a NIC jvisor has"));
        assertTrue(error("-nic", "model=virtio").contains("the first element is the backend type"));
        assertTrue(error("-nic", "user,id=x").contains("-nic takes no id"));
    }

    @Test
    void streamInLibvirtsJsonSpelling() throws UsageException {
        var n = parse("-netdev", "{\"type\":\"stream\",\"addr\":{\"type\":\"unix\",\"path\":\"/run/passt.socket\"},"
            + "\"server\":false,\"id\":\"hostnet0\"}", "-device", "virtio-net-pci,netdev=hostnet0").netdevs().get(0);
        assertEquals(new MachineConfig.NetdevConfig.Stream("hostnet0", false,
            new MachineConfig.StreamAddress.Unix(java.nio.file.Path.of("/run/passt.socket"))), n);
    }

    /**
     * libvirt's taps: -netdev tap,fd=N[,vhost=on,vhostfd=M] in key=value and JSON form (libvirt
     * 9.0 uses the JSON form when the schema says netdev_add takes it); the descriptors are
     * checked when the machine opens them.
     */
    @Test
    void tapOnAnInheritedDescriptor() throws UsageException {
        assertEquals(List.of(new MachineConfig.NetdevConfig.TapFd("hostnet0", 27, false, -1)),
            parse("-netdev", "tap,fd=27,id=hostnet0", "-device", "virtio-net-pci,netdev=hostnet0").netdevs());
        assertEquals(List.of(new MachineConfig.NetdevConfig.TapFd("hostnet0", 27, true, 28)),
            parse("-netdev", "{\"type\":\"tap\",\"fd\":\"27\",\"vhost\":true,\"vhostfd\":\"28\",\"id\":\"hostnet0\"}").netdevs());
        assertEquals(List.of(new MachineConfig.NetdevConfig.TapFd("n", 5, true, 6)), parse("-netdev", "tap,id=n,fd=5,vhostfd=6").netdevs(),
            "a vhostfd asks for vhost, as in QEMU");
        assertEquals(List.of(new MachineConfig.NetdevConfig.TapFd("n", 5, false, -1)), parse("-netdev", "tap,id=n,fds=5,vhost=off").netdevs(),
            "fds= of one descriptor is fd=");
    }

    /** QEMU 7.2's words for what its net_init_tap refuses (checked against qemu-system-x86_64 7.2), jvisor's for multiqueue. */
    @Test
    void tapDescriptorErrors() {
        assertEquals("-netdev tap,fd=foo,id=n0: Invalid file descriptor number 'foo'", error("-netdev", "tap,fd=foo,id=n0"));
        assertEquals("-netdev tap,fd=/dev/fdset/3,id=n0: Invalid file descriptor number '/dev/fdset/3'",
            error("-netdev", "tap,fd=/dev/fdset/3,id=n0"));
        assertEquals("-netdev tap,fd=3,id=n0,script=no: ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and "
            + "vhostfds= are invalid with fd=", error("-netdev", "tap,fd=3,id=n0,script=no"));
        assertTrue(error("-netdev", "tap,fd=3,id=n0,queues=1").endsWith("are invalid with fd="));
        assertTrue(error("-netdev", "tap,fd=3,id=n0,ifname=tap0").endsWith("are invalid with fd="));
        assertEquals("-netdev tap,fd=3,id=n0,vhost=off,vhostfd=4: vhostfd(s)= is not valid without vhost",
            error("-netdev", "tap,fd=3,id=n0,vhost=off,vhostfd=4"));
        assertTrue(error("-netdev", "tap,fds=3,id=n0,ifname=t").endsWith("ifname=, script=, downscript=, vnet_hdr=, helper=, and vhostfd= "
            + "are invalid with fds="));
        assertTrue(error("-netdev", "tap,fds=3:4,vhostfds=5,id=n0").endsWith("The number of fds passed does not match the number of"
            + " vhostfds passed"));
        String multi = error("-netdev", "tap,fds=3:4,id=n0");
        assertTrue(multi.contains("a multiqueue tap (2 descriptors) is not supported") && multi.contains("queues="), multi);
        String force = error("-netdev", "tap,fd=3,id=n0,vhost=on,vhostforce=on");
        assertTrue(force.contains("jvisor has no vhost-net") && force.contains("<driver name='qemu'/>"), force);
        assertTrue(error("-netdev", "tap,id=n0,ifname=t0,vhost=on").contains("vhost=on: jvisor has no vhost-net"));
    }

    @Test
    void vhostOffIsTakenWithIfname() throws UsageException {
        assertEquals(List.of(new MachineConfig.NetdevConfig.Tap("n", "t0")), parse("-netdev", "tap,id=n,ifname=t0,vhost=off").netdevs());
    }
}
