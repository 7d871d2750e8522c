package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jvisor.config.HotplugDevice;
import org.jvisor.config.MachineConfig;
import org.junit.jupiter.api.Test;

/** device_add's arguments read as -device's JSON form, against the running machine's configuration. */
class HotplugOptionsTest {
    private static MachineConfig machine(String... args) throws UsageException {
        String[] all = new String[args.length + 2];
        all[0] = "-kernel";
        all[1] = "/dev/null";
        System.arraycopy(args, 0, all, 2, args.length);
        return ((CommandLine.Action.Run) CommandLine.parse(all)).config();
    }

    private static final MachineConfig Q35 = q35();

    private static MachineConfig q35() {
        try {
            return machine("-M", "q35", "-device", "pcie-root-port,id=pci.1,chassis=1,port=16",
                "-device", "pcie-root-port,id=pci.2,chassis=2,port=17");
        } catch (UsageException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void libvirtsDiskBehindARootPort() {
        // what libvirt 9 sends for virsh attach-disk --live on q35 (its values as strings)
        HotplugDevice d = HotplugOptions.parse("{\"driver\":\"virtio-blk-pci-non-transitional\",\"bus\":\"pci.2\",\"addr\":\"0x0\","
            + "\"drive\":\"libvirt-2-format\",\"id\":\"virtio-disk1\"}", Q35);
        assertEquals("virtio-disk1", d.id());
        assertEquals("virtio-blk-pci-non-transitional", d.typeName());
        assertEquals("pci.2", d.bus());
        assertNull(d.slot());
        assertEquals("libvirt-2-format", ((MachineConfig.VirtioDeviceConfig.VirtioBlk) d.device()).driveId());
        assertNull(d.drive());   // QMP resolves the node
    }

    @Test
    void aNicAndAnRngOnPcsRootBus() throws Exception {
        MachineConfig pc = machine("-netdev", "user,id=hostnet1");
        HotplugDevice nic = HotplugOptions.parse("{\"driver\":\"virtio-net-pci\",\"netdev\":\"hostnet1\",\"id\":\"net1\","
            + "\"mac\":\"52:54:00:aa:bb:cc\",\"bus\":\"pci.0\",\"addr\":\"0x9\"}", pc);
        assertEquals(9, nic.slot());
        assertNull(nic.bus());
        assertEquals("hostnet1", ((MachineConfig.VirtioDeviceConfig.VirtioNet) nic.device()).netdevId());
        HotplugDevice rng = HotplugOptions.parse("{\"driver\":\"virtio-rng-pci\"}", pc);
        assertNull(rng.id());
        assertEquals("virtio-rng-pci", rng.typeName());
    }

    @Test
    void whatJvisorDoesNotHotPlugIsRefusedInOneLine() throws Exception {
        MachineConfig pc = machine();
        for (String args : new String[] {
            "{\"driver\":\"virtio-serial-pci\"}",
            "{\"driver\":\"virtio-blk-device\",\"drive\":\"d\"}",
            "{\"driver\":\"virtio-rng-pci\",\"rng\":\"rng0\"}",
            "{\"driver\":\"virtio-blk-pci\",\"drive\":\"d\",\"iothread\":\"io0\"}",
            "{\"driver\":\"virtio-rng-pci\",\"iommu_platform\":\"on\"}"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HotplugOptions.parse(args, pc), args);
            assertTrue(e.getMessage().startsWith("jvisor hot-plugs virtio-blk-pci"), e.getMessage());
        }
    }

    @Test
    void aBusTheMachineHasNotIsNamed() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> HotplugOptions.parse("{\"driver\":\"virtio-rng-pci\",\"bus\":\"pci.7\"}", Q35));
        assertTrue(e.getMessage().contains("Bus 'pci.7' not found"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
            () -> HotplugOptions.parse("{\"driver\":\"virtio-gpu-pci\"}", Q35));
        assertTrue(e.getMessage().contains("'virtio-gpu-pci' is not a device jvisor has"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
            () -> HotplugOptions.parse("{\"driver\":\"virtio-rng-pci\",\"bus\":\"pcie.0\"}", machine()));
        assertTrue(e.getMessage().contains("Bus 'pcie.0' not found"), e.getMessage());
    }

    @Test
    void netdevAddReadsLibvirtsBackendAsNetdevDoes() {
        // libvirt's netdev_add for <interface type='user'>
        assertEquals(new MachineConfig.NetdevConfig.User("hostnet0", java.util.List.of()),
            HotplugOptions.PARSER.netdev("{\"type\":\"user\",\"id\":\"hostnet0\"}", HotplugDevice.MonitorFds.NONE));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> HotplugOptions.PARSER.netdev("{\"type\":\"vde\",\"id\":\"n\"}", HotplugDevice.MonitorFds.NONE));
        assertTrue(e.getMessage().contains("vde"), e.getMessage());
    }

    /**
     * netdev_add tap,fd=NAME: the name is the monitor's (getfd), taken only once every other check
     * passed; a vhostfd name is taken too (and closed by the machine). Numbers are refused: they
     * would name jvisor's own descriptors.
     */
    @Test
    void netdevAddTakesATapByItsGetfdName() {
        java.util.List<String> taken = new java.util.ArrayList<>();
        HotplugDevice.MonitorFds monitor = name -> {
            taken.add(name);
            return switch (name) {
                case "hostnet1-fd" -> 41;
                case "hostnet1-vhostfd" -> 42;
                default -> throw new IllegalArgumentException("File descriptor named '" + name + "' has not been found");
            };
        };
        assertEquals(new MachineConfig.NetdevConfig.TapFd("hostnet1", 41, true, 42), HotplugOptions.PARSER.netdev(
            "{\"type\":\"tap\",\"fd\":\"hostnet1-fd\",\"vhost\":true,\"vhostfd\":\"hostnet1-vhostfd\",\"id\":\"hostnet1\"}", monitor));
        assertEquals(java.util.List.of("hostnet1-fd", "hostnet1-vhostfd"), taken);
        taken.clear();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HotplugOptions.PARSER.netdev(
            "{\"type\":\"tap\",\"fd\":\"nope\",\"id\":\"n\"}", monitor));
        assertTrue(e.getMessage().endsWith(": File descriptor named 'nope' has not been found"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HotplugOptions.PARSER.netdev(
            "{\"type\":\"tap\",\"fd\":\"hostnet1-fd\",\"ifname\":\"t\",\"id\":\"n\"}", monitor));
        assertTrue(e.getMessage().endsWith("are invalid with fd="), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HotplugOptions.PARSER.netdev(
            "{\"type\":\"tap\",\"fd\":\"7\",\"id\":\"n\"}", monitor));
        assertTrue(e.getMessage().contains("by the name getfd gave it"), e.getMessage());
        assertEquals(java.util.List.of("nope"), taken, "nothing taken for a netdev refused before");
    }
}
