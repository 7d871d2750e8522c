package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.jvisor.config.MacAddress;
import org.jvisor.config.MachineConfig;

/** -netdev tap and -device virtio-net-pci: QEMU's spelling, QEMU's checks. */
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
        assertTrue(error("-netdev", "user,id=u").contains("'user' is not a network backend jvisor has (known: tap)"));
        assertTrue(error("-netdev", "tap,id=n1,fd=3").contains("unknown property 'fd'"));
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
}
