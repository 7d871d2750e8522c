package org.jvisor.cli;

import java.util.Set;

import org.jvisor.config.MachineConfig.Transport;
import org.jvisor.config.MachineConfig.VirtioDeviceConfig;

/** QEMU's {@code -device vhost-user-blk-pci|vhost-user-blk-device|vhost-user-fs-pci|vhost-user-fs-device,chardev=ID,...}. */
final class VhostUserOptions {
    /** QEMU 7.2's default queue-size for vhost-user-blk. */
    static final int DEFAULT_QUEUE_SIZE = 128;
    /** virtio's limit on queues of one device (VIRTIO_QUEUE_MAX in QEMU is 1024; a blk backend offers far fewer). */
    static final int MAX_QUEUES = 64;

    private VhostUserOptions() {
    }

    static boolean handlesDevice(String driver) {
        return "vhost-user-blk-pci".equals(driver) || "vhost-user-blk-device".equals(driver)
            || "vhost-user-fs-pci".equals(driver) || "vhost-user-fs-device".equals(driver);
    }

    static VirtioDeviceConfig parse(OptionList o, ChardevOptions chardevs) throws UsageException {
        return o.implied().startsWith("vhost-user-fs") ? parseFs(o, chardevs) : parseBlk(o, chardevs);
    }

    /** QEMU 7.2's vhost-user-fs: tag (1-36 bytes) required, one request queue and queues of 128 by default. */
    static VirtioDeviceConfig.VhostUserFs parseFs(OptionList o, ChardevOptions chardevs) throws UsageException {
        String driver = o.implied();
        o.allowOnly(Set.of("chardev", "tag", "num-request-queues", "queue-size", "x-irqfd"), driver);
        String chardev = o.get("chardev");
        if (chardev == null || chardev.isEmpty()) {
            throw new UsageException("-device " + driver + ": missing chardev");
        }
        String tag = o.get("tag");
        if (tag == null || tag.isEmpty()) {
            throw new UsageException("-device " + driver + ": missing tag property");
        }
        if (tag.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 36) {
            throw new UsageException("-device " + driver + ": tag property must be 36 bytes or less");
        }
        chardevs.vhostUserUses(chardev, driver);
        int requestQueues = o.number(driver, "num-request-queues", 1, 1, MAX_QUEUES - 1);
        int queueSize = o.number(driver, "queue-size", DEFAULT_QUEUE_SIZE, 2, 1024);
        if (Integer.bitCount(queueSize) != 1) {
            throw new UsageException("-device " + driver + ": queue-size property must be a power of 2");
        }
        Transport transport = driver.endsWith("-pci") ? Transport.PCI : Transport.MMIO;
        return new VirtioDeviceConfig.VhostUserFs(chardev, tag, requestQueues, queueSize, transport, onOff(o, driver, "x-irqfd"));
    }

    static VirtioDeviceConfig.VhostUserBlk parseBlk(OptionList o, ChardevOptions chardevs) throws UsageException {
        String driver = o.implied();
        o.allowOnly(Set.of("chardev", "num-queues", "queue-size", "config-wce", "x-irqfd"), driver);
        String chardev = o.get("chardev");
        if (chardev == null || chardev.isEmpty()) {
            throw new UsageException("-device " + driver + ": chardev is mandatory");
        }
        chardevs.vhostUserUses(chardev, driver);
        int numQueues = o.number(driver, "num-queues", 0, 1, MAX_QUEUES);
        int queueSize = o.number(driver, "queue-size", DEFAULT_QUEUE_SIZE, 2, 1024);
        if (Integer.bitCount(queueSize) != 1) {
            throw new UsageException("-device " + driver + ": queue-size must be a power of 2 (2-1024), not " + queueSize);
        }
        boolean wce = onOff(o, driver, "config-wce");
        Transport transport = driver.endsWith("-pci") ? Transport.PCI : Transport.MMIO;
        return new VirtioDeviceConfig.VhostUserBlk(chardev, numQueues, queueSize, wce, transport, onOff(o, driver, "x-irqfd"));
    }

    /** An on/off property that defaults to on. */
    private static boolean onOff(OptionList o, String driver, String property) throws UsageException {
        return switch (o.get(property) == null ? "on" : o.get(property)) {
            case "on", "yes", "true" -> true;
            case "off", "no", "false" -> false;
            default -> throw new UsageException("-device " + driver + ": " + property + "='" + o.get(property) + "' (expected on or off)");
        };
    }
}
