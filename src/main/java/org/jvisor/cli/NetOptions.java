package org.jvisor.cli;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jvisor.config.MacAddress;
import org.jvisor.config.MachineConfig;

/** QEMU's -netdev tap,... and -device virtio-net-pci,... options, with QEMU's checks and messages. */
final class NetOptions {
    private NetOptions() {
    }

    /** -netdev tap,id=ID[,ifname=NAME][,script=no][,downscript=no]: jvisor never runs scripts. */
    static MachineConfig.NetdevConfig parseNetdev(String text, List<MachineConfig.NetdevConfig> earlier) throws UsageException {
        OptionList o = OptionList.parse("-netdev", text, true);
        String type = o.implied() != null ? o.implied() : o.get("type");
        if (type == null) {
            throw new UsageException("-netdev " + text + ": no backend type given (jvisor has: tap)");
        }
        if (!type.equals("tap")) {
            throw new UsageException("-netdev " + text + ": '" + type + "' is not a network backend jvisor has (known: tap)");
        }
        o.allowOnly(Set.of("type", "id", "ifname", "script", "downscript"), "tap");
        String id = o.get("id");
        if (id == null || id.isEmpty()) {
            throw new UsageException("-netdev " + text + ": Parameter 'id' is missing");
        }
        for (MachineConfig.NetdevConfig n : earlier) {
            if (n.id().equals(id)) {
                throw new UsageException("-netdev " + text + ": Duplicate ID '" + id + "' for netdev");
            }
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
        return new MachineConfig.NetdevConfig(id, ifname == null || ifname.isEmpty() ? null : ifname);
    }

    /** -device virtio-net-pci|virtio-net-device,netdev=ID[,mac=52:54:00:xx:xx:xx]. */
    static MachineConfig.VirtioDeviceConfig.VirtioNet parseNic(OptionList o, MachineConfig.Transport transport)
            throws UsageException {
        o.allowOnly(Set.of("netdev", "mac"), o.implied());
        String netdev = o.get("netdev");
        if (netdev == null || netdev.isEmpty()) {
            throw new UsageException("-device " + o.implied() + ": netdev=ID is required (a -netdev tap,id=ID to connect it to)");
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
