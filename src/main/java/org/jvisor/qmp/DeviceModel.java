package org.jvisor.qmp;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every device model jvisor's -device creates: the one list the command line checks a driver
 * against and QMP's discovery (qom-list-types, device-list-properties) answers from, so the two
 * cannot disagree. Each model has its QOM parent (QEMU 7.2's, where QEMU has the model; jvisor's
 * own vhost-user-blk-device and the "ahci" alias hang where their siblings do) and the
 * properties its -device takes beyond those of its abstract ancestors (id=, bus=, and the
 * ancestors' own, e.g. virtio-pci's), with QEMU's property type names.
 */
public enum DeviceModel {
    ISA_DEBUG_EXIT("isa-debug-exit", "isa-device", "iobase", "uint32", "iosize", "uint32"),
    ISA_SERIAL("isa-serial", "isa-device", "chardev", "str", "index", "uint32", "iobase", "uint32", "irq", "uint32"),
    VIRTIO_RNG_PCI("virtio-rng-pci", "virtio-pci", "ioeventfd", "bool",
        "rng", "link<rng-backend>", "max-bytes", "uint64", "period", "uint32"),
    VIRTIO_BLK_PCI("virtio-blk-pci", "virtio-pci", "drive", "str", "bootindex", "int32", "iothread", "link<iothread>",
        "ioeventfd", "bool"),
    VIRTIO_NET_PCI("virtio-net-pci", "virtio-pci", "netdev", "str", "mac", "str"),
    VIRTIO_SERIAL_PCI("virtio-serial-pci", "virtio-pci", "max_ports", "uint32"),
    VIRTIO_BALLOON_PCI("virtio-balloon-pci", "virtio-pci", "deflate-on-oom", "bool", "free-page-reporting", "bool",
        "free-page-hint", "bool"),
    // QEMU's -non-transitional types: the same devices, modern-only, which jvisor's always are
    // (libvirt places virtio devices on q35's PCI Express ports only when it sees these types)
    VIRTIO_RNG_PCI_NON_TRANSITIONAL("virtio-rng-pci-non-transitional", "virtio-pci", "ioeventfd", "bool",
        "rng", "link<rng-backend>", "max-bytes", "uint64", "period", "uint32"),
    VIRTIO_BLK_PCI_NON_TRANSITIONAL("virtio-blk-pci-non-transitional", "virtio-pci", "drive", "str", "bootindex", "int32",
        "iothread", "link<iothread>", "ioeventfd", "bool"),
    VIRTIO_NET_PCI_NON_TRANSITIONAL("virtio-net-pci-non-transitional", "virtio-pci", "netdev", "str", "mac", "str"),
    VIRTIO_SERIAL_PCI_NON_TRANSITIONAL("virtio-serial-pci-non-transitional", "virtio-pci", "max_ports", "uint32"),
    VIRTIO_BALLOON_PCI_NON_TRANSITIONAL("virtio-balloon-pci-non-transitional", "virtio-pci", "deflate-on-oom", "bool",
        "free-page-reporting", "bool", "free-page-hint", "bool"),
    PCIE_ROOT_PORT("pcie-root-port", "pcie-root-port-base", "port", "uint8", "chassis", "uint8", "slot", "uint16",
        "multifunction", "bool", "hotplug", "bool"),
    VIRTIO_RNG_DEVICE("virtio-rng-device", "virtio-device", "ioeventfd", "bool",
        "rng", "link<rng-backend>", "max-bytes", "uint64", "period", "uint32"),
    VIRTIO_BLK_DEVICE("virtio-blk-device", "virtio-device", "drive", "str", "bootindex", "int32", "iothread",
        "link<iothread>", "ioeventfd", "bool"),
    VIRTIO_NET_DEVICE("virtio-net-device", "virtio-device", "netdev", "str", "mac", "str"),
    VIRTIO_SERIAL_DEVICE("virtio-serial-device", "virtio-device", "max_ports", "uint32"),
    VIRTIO_BALLOON_DEVICE("virtio-balloon-device", "virtio-device", "deflate-on-oom", "bool", "free-page-reporting", "bool",
        "free-page-hint", "bool"),
    VIRTCONSOLE("virtconsole", "virtserialport"),
    VIRTSERIALPORT("virtserialport", "virtio-serial-port"),
    // x-irqfd is jvisor's own switch (the guest notification path), the rest are QEMU's. The -pci
    // ones hang off "device", not virtio-pci: their -device takes neither addr= nor virtio-pci's
    // properties today, and discovery must not say it does
    VHOST_USER_BLK_PCI("vhost-user-blk-pci", "device", "chardev", "str", "num-queues", "uint16", "queue-size", "uint32",
        "config-wce", "bool", "x-irqfd", "bool"),
    VHOST_USER_BLK_DEVICE("vhost-user-blk-device", "virtio-device", "chardev", "str", "num-queues", "uint16", "queue-size",
        "uint32", "config-wce", "bool", "x-irqfd", "bool"),
    VHOST_USER_FS_PCI("vhost-user-fs-pci", "device", "chardev", "str", "tag", "str", "num-request-queues", "uint16",
        "queue-size", "uint16", "x-irqfd", "bool"),
    VHOST_USER_FS_DEVICE("vhost-user-fs-device", "virtio-device", "chardev", "str", "tag", "str", "num-request-queues",
        "uint16", "queue-size", "uint16", "x-irqfd", "bool"),
    INTEL_IOMMU("intel-iommu", "x86-iommu", "caching-mode", "bool", "aw-bits", "uint8", "eim", "OnOffAuto",
        "x-scalable-mode", "bool", "dma-drain", "bool"),
    IDE_HD("ide-hd", "ide-device", "drive", "str", "bootindex", "int32", "unit", "uint32"),
    IDE_CD("ide-cd", "ide-device", "drive", "str", "bootindex", "int32", "unit", "uint32"),
    AHCI("ahci", "pci-device"),
    ICH9_AHCI("ich9-ahci", "pci-device");

    private final String qemuName;
    private final String parent;
    private final Map<String, String> properties;

    DeviceModel(String qemuName, String parent, String... properties) {
        this.qemuName = qemuName;
        this.parent = parent;
        Map<String, String> p = new LinkedHashMap<>();
        for (int i = 0; i < properties.length; i += 2) {
            p.put(properties[i], properties[i + 1]);
        }
        this.properties = java.util.Collections.unmodifiableMap(p);
    }

    /** The -device driver name, QEMU's type name. */
    public String qemuName() {
        return qemuName;
    }

    /** The QOM parent type (abstract, described by QMP's discovery). */
    public String parent() {
        return parent;
    }

    /** The model's own properties, name to QEMU's property type, in the order QMP lists them. */
    public Map<String, String> properties() {
        return properties;
    }

    /** Every model's driver name, in declaration order (for messages). */
    public static List<String> names() {
        return Arrays.stream(values()).map(DeviceModel::qemuName).toList();
    }
}
