package org.jvisor.qmp;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

import org.jvisor.config.BlockNode;
import org.jvisor.config.HotplugDevice;

/**
 * The names the command line gave that QMP reports and the machine does not keep: the -device
 * ids with their device types (QOM's /machine/peripheral), and the disks that are -blockdev
 * nodes, each with the id of the device using it ("" for a device without id). QEMU reports a
 * -blockdev disk under its node-name with an empty "device" and the device's QOM path as "qdev".
 * {@code driveDevices} maps every drive a -device uses (drive=) to that device's id ("" without);
 * {@code graph} holds the -blockdev nodes, where blockdev-add and blockdev-del start from;
 * {@code deviceAdd} reads device_add's arguments as the command line reads -device.
 */
public record QomNames(Map<String, String> peripherals, Map<String, String> blockNodes, Map<String, String> driveDevices,
                       Map<String, BlockNode> graph, HotplugDevice.Parser deviceAdd) {
    public static final QomNames NONE = new QomNames(Map.of(), Map.of());

    public QomNames {
        peripherals = Map.copyOf(peripherals);
        blockNodes = Map.copyOf(blockNodes);
        driveDevices = Map.copyOf(driveDevices);
        graph = Collections.unmodifiableMap(new LinkedHashMap<>(graph));
        deviceAdd = deviceAdd == null ? HotplugDevice.Parser.NONE : deviceAdd;
    }

    /** Without device_add. */
    public QomNames(Map<String, String> peripherals, Map<String, String> blockNodes, Map<String, String> driveDevices,
                    Map<String, BlockNode> graph) {
        this(peripherals, blockNodes, driveDevices, graph, HotplugDevice.Parser.NONE);
    }

    /** Without -blockdev nodes. */
    public QomNames(Map<String, String> peripherals, Map<String, String> blockNodes, Map<String, String> driveDevices) {
        this(peripherals, blockNodes, driveDevices, Map.of());
    }

    /** Without devices on -drive drives. */
    public QomNames(Map<String, String> peripherals, Map<String, String> blockNodes) {
        this(peripherals, blockNodes, blockNodes);
    }

    /** The id of the -device using {@code drive}: "" for none or one without an id. */
    public String deviceOf(String drive) {
        String d = blockNodes.get(drive);
        return d != null ? d : driveDevices.getOrDefault(drive, "");
    }
}
