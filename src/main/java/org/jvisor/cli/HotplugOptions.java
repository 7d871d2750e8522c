package org.jvisor.cli;

import org.jvisor.config.HotplugDevice;
import org.jvisor.config.MachineConfig;

/**
 * QMP device_add's arguments, read as -device reads its JSON form, into a device to plug into a
 * running machine, and netdev_add's as -netdev reads them ({@link HotplugDevice.Parser}). jvisor hot-plugs the virtio PCI devices whose
 * backends can be had while the machine runs: virtio-blk (its drive a -blockdev or blockdev-add
 * node, or an unused -drive), virtio-net (an unused -netdev), virtio-rng (the host's generator).
 */
final class HotplugOptions {
    private HotplugOptions() {
    }

    /** The parsers QMP's device_add and netdev_add use. */
    static final HotplugDevice.Parser PARSER = new HotplugDevice.Parser() {
        @Override
        public HotplugDevice device(String json, MachineConfig machine) {
            return parse(json, machine);
        }

        @Override
        public MachineConfig.NetdevConfig netdev(String json, HotplugDevice.MonitorFds monitorFds) {
            try {
                return NetOptions.parseNetdev(json, java.util.List.of(), value -> monitorFd(value, monitorFds));
            } catch (UsageException e) {
                throw new IllegalArgumentException(e.getMessage().replaceFirst("^-netdev ", ""), e);
            }
        }
    };

    /**
     * netdev_add's fd=: QEMU 7.2's monitor_fd_param takes a getfd name, or a number (one of its
     * own descriptors, which it then takes over and closes, even when it is no tap). jvisor takes
     * names only: a number would let a client close one of jvisor's own descriptors (its
     * machine's, another backend's), and libvirt always passes a name.
     */
    private static int monitorFd(String value, HotplugDevice.MonitorFds monitorFds) throws UsageException {
        if (!value.isEmpty() && Character.isDigit(value.charAt(0))) {
            throw new UsageException("fd=" + value + ": jvisor takes a tap's descriptor at hot-plug by the name getfd gave it,"
                + " not by number");
        }
        try {
            return monitorFds.take(value);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage(), e);
        }
    }

    static HotplugDevice parse(String json, MachineConfig machine) {
        DeviceOptions options = new DeviceOptions();
        options.knownRootPorts(machine.pcieRootPorts());
        try {
            options.add(json, new ChardevOptions(new FdSets()));
            options.checkMachine(machine.machineType());
        } catch (UsageException e) {
            throw new IllegalArgumentException(e.getMessage().replaceFirst("^-device ", ""), e);
        }
        if (options.virtioDevices().size() != 1) {
            throw new IllegalArgumentException(REFUSAL);
        }
        MachineConfig.VirtioDeviceConfig device = options.virtioDevices().getFirst();
        boolean pluggable = switch (device) {
            case MachineConfig.VirtioDeviceConfig.VirtioBlk b -> b.iothread() == null;
            case MachineConfig.VirtioDeviceConfig.VirtioNet n -> true;
            case MachineConfig.VirtioDeviceConfig.VirtioRng r -> !options.namesRngObjects();
            default -> false;
        };
        if (device.transport() != MachineConfig.Transport.PCI || !pluggable || !options.pciDma().isEmpty()) {
            throw new IllegalArgumentException(REFUSAL);
        }
        String id = options.peripherals().keySet().stream().findFirst().orElse(null);
        String typeName = id != null ? options.peripherals().get(id) : device.qemuName();
        return new HotplugDevice(id, typeName, device, options.pciBuses().get(0), options.pciSlots().get(0), null);
    }

    private static final String REFUSAL = "jvisor hot-plugs virtio-blk-pci (without iothread=), virtio-net-pci and "
        + "virtio-rng-pci (without rng=), and their -non-transitional types, without iommu_platform= or ats=; give this "
        + "device on the command line";
}
