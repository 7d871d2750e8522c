package org.jvisor.config;

import java.util.Objects;

/**
 * A device to plug into a running machine (QMP device_add, or the Java API): a virtio PCI device
 * as its -device option describes it, where it goes, and the disk it opens.
 *
 * @param id       its id= (QOM's /machine/peripheral/ID, device_del's handle); null for none,
 *                 as QEMU allows (such a device cannot be unplugged by id)
 * @param typeName the driver as the user named it (virtio-blk-pci-non-transitional...)
 * @param device   the device
 * @param bus      bus= a pcie-root-port's id (q35), or null for the root bus (pc's pci.0)
 * @param slot     addr= on the root bus, or null for the first free slot (behind a port: 0)
 * @param drive    the disk of a virtio-blk (drive= resolved to a -blockdev node or an unused
 *                 -drive), else null
 */
public record HotplugDevice(String id, String typeName, MachineConfig.VirtioDeviceConfig device, String bus, Integer slot,
                            MachineConfig.DriveConfig drive) {
    public HotplugDevice {
        Objects.requireNonNull(typeName, "typeName");
        Objects.requireNonNull(device, "device");
        if (device.transport() != MachineConfig.Transport.PCI) {
            throw new IllegalArgumentException(typeName + " is not a PCI device");
        }
    }

    /** The same device with its disk resolved. */
    public HotplugDevice withDrive(MachineConfig.DriveConfig d) {
        return new HotplugDevice(id, typeName, device, bus, slot, d);
    }

    /** A monitor's descriptors passed with getfd, by name. */
    @FunctionalInterface
    public interface MonitorFds {
        /**
         * Takes descriptor {@code name} out of the monitor; its number, now the caller's to close.
         *
         * @throws IllegalArgumentException with QEMU's words when the monitor has none of that name
         */
        int take(String name);

        /** A monitor without descriptors (the command line). */
        MonitorFds NONE = name -> {
            throw new IllegalArgumentException("File descriptor named '" + name + "' has not been found");
        };
    }

    /** device_add's and netdev_add's parsers: their arguments, as -device's and -netdev's JSON forms. */
    public interface Parser {
        /**
         * device_add's arguments into a device for {@code machine}.
         *
         * @throws IllegalArgumentException with QEMU's words (or jvisor's where it has no such
         *                                  device) when the arguments are not a device jvisor can plug
         */
        HotplugDevice device(String json, MachineConfig machine);

        /**
         * netdev_add's arguments into a network backend; a tap's fd= and vhostfd= name
         * descriptors the monitor holds (getfd), which {@code monitorFds} hands over by name (QEMU's
         * monitor_get_fd: the descriptor leaves the monitor, the backend owns it).
         *
         * @throws IllegalArgumentException when they are not a -netdev jvisor has, or name no
         *                                  descriptor of the monitor
         */
        MachineConfig.NetdevConfig netdev(String json, MonitorFds monitorFds);

        /** Where no command line is at hand: device_add and netdev_add refuse everything. */
        Parser NONE = new Parser() {
            @Override
            public HotplugDevice device(String json, MachineConfig machine) {
                throw new IllegalArgumentException("device_add is not available in this monitor");
            }

            @Override
            public MachineConfig.NetdevConfig netdev(String json, MonitorFds monitorFds) {
                throw new IllegalArgumentException("netdev_add is not available in this monitor");
            }
        };
    }
}
