package org.jvisor.cli;

import java.util.Set;

import org.jvisor.config.MachineConfig;

/** -device intel-iommu's properties, checked as QEMU 7.2 checks them (with its messages). */
final class IommuOptions {
    private IommuOptions() {
    }

    /**
     * intremap=on|off|auto, caching-mode=, device-iotlb=, aw-bits=39|48, eim=on|off|auto (x2APIC
     * interrupt remapping; auto is off, as QEMU's on tcg), x-scalable-mode only off. {@code another}
     * says an intel-iommu was given before.
     */
    static MachineConfig.IommuConfig parse(OptionList o, boolean another) throws UsageException {
        String where = "-device intel-iommu";
        if (another) {
            throw new UsageException(where + ": QEMU does not support multiple vIOMMUs for x86 yet.");
        }
        o.allowOnly(Set.of("intremap", "caching-mode", "device-iotlb", "aw-bits", "eim", "x-scalable-mode", "dma-drain"),
            "intel-iommu");
        String ir = o.get("intremap");
        Boolean intremap = ir == null || ir.equals("auto") ? null : onOff(where, "intremap", ir);
        boolean cachingMode = o.get("caching-mode") != null && onOff(where, "caching-mode", o.get("caching-mode"));
        boolean deviceIotlb = o.get("device-iotlb") != null && onOff(where, "device-iotlb", o.get("device-iotlb"));
        String aw = o.get("aw-bits");
        int awBits = 39;
        if (aw != null) {
            try {
                awBits = Integer.parseInt(aw);
            } catch (NumberFormatException e) {
                throw new UsageException(where + ": Parameter 'aw-bits' expects uint8");
            }
            if (awBits != 39 && awBits != 48) {
                throw new UsageException(where + ": Supported values for aw-bits are: 39, 48");
            }
        }
        // QEMU 7.2 allows eim=on only with kvm's split irqchip; jvisor's tcg LAPICs have x2APIC.
        String eimValue = o.get("eim");
        boolean eim = eimValue != null && !eimValue.equals("auto") && onOff(where, "eim", eimValue);
        if (eim && Boolean.FALSE.equals(intremap)) {
            throw new UsageException(where + ": eim=on cannot be selected without intremap=on");
        }
        if (o.get("x-scalable-mode") != null && onOff(where, "x-scalable-mode", o.get("x-scalable-mode"))) {
            throw new UsageException(where + ": x-scalable-mode=on: jvisor's intel-iommu has legacy mode only");
        }
        if (o.get("dma-drain") != null && !onOff(where, "dma-drain", o.get("dma-drain"))) {
            throw new UsageException(where + ": dma-drain=off: jvisor's intel-iommu always reports DMA draining");
        }
        return new MachineConfig.IommuConfig(intremap, cachingMode, deviceIotlb, awBits, eim);
    }

    /** QEMU's bool property wording. */
    private static boolean onOff(String where, String key, String v) throws UsageException {
        return switch (v) {
            case "on", "yes", "true" -> true;
            case "off", "no", "false" -> false;
            default -> throw new UsageException(where + ": Parameter '" + key + "' expects 'on' or 'off'");
        };
    }
}
