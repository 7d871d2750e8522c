package org.jvisor.qmp;

import java.util.Map;

/**
 * The names the command line gave that QMP reports and the machine does not keep: the -device
 * ids with their device types (QOM's /machine/peripheral), and the disks that are -blockdev
 * nodes, each with the id of the device using it ("" for a device without id). QEMU reports a
 * -blockdev disk under its node-name with an empty "device" and the device's QOM path as "qdev".
 */
public record QomNames(Map<String, String> peripherals, Map<String, String> blockNodes) {
    public static final QomNames NONE = new QomNames(Map.of(), Map.of());

    public QomNames {
        peripherals = Map.copyOf(peripherals);
        blockNodes = Map.copyOf(blockNodes);
    }
}
