package org.jvisor.qmp;

import java.util.List;
import java.util.Map;

import org.jvisor.api.VirtualMachine;
import org.jvisor.api.VmEvent;
import org.jvisor.api.VmException;
import org.jvisor.config.BlockNodeException;
import org.jvisor.config.HotplugDevice;
import org.jvisor.config.MachineConfig;
import org.jvisor.qmp.QmpCommandTable.Param;
import org.jvisor.qmp.QmpCommandTable.Type;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.qmp.json.JsonWriter;

/**
 * device_add and device_del (qapi/qdev.json), netdev_add and netdev_del (qapi/net.json): what
 * libvirt sends for virsh attach-disk, attach-interface and their detach-, after blockdev-add of
 * the disk's nodes or netdev_add of the NIC's backend. device_add reads
 * its arguments as -device's JSON form and plugs the device into the running machine;
 * device_del asks the guest to let go of it and returns, and DEVICE_DELETED follows once the
 * guest has. The device's id joins QOM's /machine/peripheral while it is plugged, and a disk's
 * node is in use (blockdev-del refuses it) until then.
 */
final class DeviceHotplugCommands {
    private final VirtualMachine vm;
    private final Map<String, String> peripherals;
    private final BlockNodes nodes;
    private final QomNames names;
    /** The node each hot-plugged disk took, by its device's id. */
    private final Map<String, String> nodeOfDevice = new java.util.concurrent.ConcurrentHashMap<>();

    private DeviceHotplugCommands(VirtualMachine vm, Map<String, String> peripherals, BlockNodes nodes, QomNames names) {
        this.vm = vm;
        this.peripherals = peripherals;
        this.nodes = nodes;
        this.names = names;
    }

    /**
     * @param peripherals QOM's /machine/peripheral (id → type), which device_add and DEVICE_DELETED change
     */
    static void register(QmpCommands c, VirtualMachine vm, Map<String, String> peripherals, BlockNodes nodes, QomNames names) {
        DeviceHotplugCommands h = new DeviceHotplugCommands(vm, peripherals, nodes, names);
        c.addOpen("device_add", List.of(new Param("driver", Type.STRING, true), new Param("bus", Type.STRING, false),
            new Param("id", Type.STRING, false)), h::add);
        c.add("device_del", List.of(new Param("id", Type.STRING, true)), h::delete);
        c.addOpen("netdev_add", List.of(new Param("type", Type.STRING, true), new Param("id", Type.STRING, true)), h::addNetdev);
        c.add("netdev_del", List.of(new Param("id", Type.STRING, true)), h::deleteNetdev);
        vm.addListener(e -> {
            if (e instanceof VmEvent.DeviceDeleted d) {
                h.deleted(d.device());
            }
        });
    }

    private JsonValue add(JsonObject a) throws QmpError {
        HotplugDevice d;
        try {
            d = names.deviceAdd().device(JsonWriter.compact(a), vm.config());
        } catch (IllegalArgumentException e) {
            throw QmpError.generic(e.getMessage());
        }
        if (d.id() != null && peripherals.containsKey(d.id())) {
            throw QmpError.generic("Duplicate device ID '" + d.id() + "'");   // QEMU 7.2's words
        }
        String node = d.device() instanceof MachineConfig.VirtioDeviceConfig.VirtioBlk b ? b.driveId() : null;
        synchronized (nodes) {   // no blockdev-del of the node while its disk is plugged
            if (node != null) {
                d = d.withDrive(disk(node));
            }
            try {
                vm.plugDevice(d);
            } catch (VmException e) {
                throw QmpError.generic(e.getMessage());
            }
            if (node != null) {
                nodes.inserted("#" + (d.id() != null ? d.id() : node), node);
            }
        }
        if (d.id() != null) {
            peripherals.put(d.id(), d.typeName());
            if (node != null) {
                nodeOfDevice.put(d.id(), node);
            }
        }
        return JsonObject.EMPTY;
    }

    /** The disk drive=NAME names: a -blockdev or blockdev-add node no device uses, or a -drive no device uses. */
    private MachineConfig.DriveConfig disk(String name) throws QmpError {
        try {
            MachineConfig.DriveConfig node = nodes.free(name);
            if (node != null) {
                return node;
            }
        } catch (BlockNodeException e) {
            throw QmpError.generic(e.getMessage());
        }
        for (MachineConfig.DriveConfig drive : vm.config().drives()) {
            if (drive.id().equals(name)) {
                if (names.driveDevices().containsKey(name)) {
                    throw QmpError.generic("Drive '" + name + "' is already in use by another device");
                }
                return drive;
            }
        }
        throw QmpError.generic("Property 'drive' can't find value '" + name + "'");   // QEMU 7.2's words
    }

    private JsonValue delete(JsonObject a) throws QmpError {
        String id = ((JsonValue.JsonString) a.members().get("id")).value();
        if (!peripherals.containsKey(id)) {
            throw new QmpError(QmpError.ErrorClass.DeviceNotFound, "Device '" + id + "' not found");
        }
        try {
            vm.unplugDevice(id);
        } catch (VmException e) {
            throw QmpError.generic(e.getMessage());
        }
        return JsonObject.EMPTY;
    }

    private JsonValue addNetdev(JsonObject a) throws QmpError {
        MachineConfig.NetdevConfig n;
        String id = ((JsonValue.JsonString) a.members().get("id")).value();
        if (vm.hasNetdev(id)) {
            // QEMU 7.2's words and order (net_client_init1): before the tap takes its descriptor,
            // so a getfd descriptor stays with the monitor
            throw QmpError.generic("Duplicate ID '" + id + "'");
        }
        try {
            // a tap's fd=NAME leaves the monitor here (getfd's descriptor); the machine owns it from then on
            n = names.deviceAdd().netdev(JsonWriter.compact(a), FdCommands::take);
            vm.addNetdev(n);
        } catch (IllegalArgumentException | VmException e) {
            throw QmpError.generic(e.getMessage());
        }
        return JsonObject.EMPTY;
    }

    private JsonValue deleteNetdev(JsonObject a) throws QmpError {
        try {
            vm.removeNetdev(((JsonValue.JsonString) a.members().get("id")).value());
        } catch (VmException e) {
            throw e.getMessage().startsWith("Device '") ? new QmpError(QmpError.ErrorClass.DeviceNotFound, e.getMessage())
                : QmpError.generic(e.getMessage());
        }
        return JsonObject.EMPTY;
    }

    /** DEVICE_DELETED: the id leaves QOM, and its disk's node is free again. */
    private void deleted(String id) {
        peripherals.remove(id);
        if (nodeOfDevice.remove(id) != null) {
            nodes.released("#" + id);
        }
    }
}
