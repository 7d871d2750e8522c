package org.jvisor.cli;

import java.util.Map;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** -M q35, -device intel-iommu and virtio-pci's DMA properties, with QEMU 7.2's messages where it has them. */
class IommuOptionsTest {
    private static MachineConfig parse(String... args) throws UsageException {
        return ((CommandLine.Action.Run) CommandLine.parse(args)).config();
    }

    private static String error(String... args) {
        return assertThrows(UsageException.class, () -> parse(args)).getMessage();
    }

    @Test
    void q35IsItsOwnMachineType() throws UsageException {
        assertEquals(MachineConfig.MachineType.Q35, parse("-M", "q35", "-kernel", "k").machineType());
        assertEquals(MachineConfig.MachineType.Q35, parse("-machine", "pc-q35-7.2", "-kernel", "k").machineType());
        assertEquals(MachineConfig.MachineType.PC, parse("-M", "pc", "-kernel", "k").machineType());
        MachineConfig firmware = parse("-M", "q35", "-drive", "file=a.img,format=raw,if=virtio");
        assertEquals(MachineConfig.MachineType.Q35, firmware.machineType());
        assertTrue(firmware.bootsFirmware(), "q35 boots a disk through SeaBIOS too");
    }

    @Test
    void intelIommuTakesQemusPropertiesOnQ35Only() throws UsageException {
        MachineConfig c = parse("-device", "intel-iommu", "-M", "q35", "-kernel", "k");
        assertEquals(new MachineConfig.IommuConfig(null, false, false, 39, false), c.iommu(), "intremap auto by default");
        assertEquals(new MachineConfig.IommuConfig(false, true, true, 48, false), parse("-M", "q35", "-kernel", "k", "-device",
            "intel-iommu,intremap=off,caching-mode=on,device-iotlb=on,aw-bits=48").iommu());
        assertNull(parse("-M", "q35", "-kernel", "k").iommu());
        assertEquals("-device intel-iommu: Parameter 'driver' expects a dynamic sysbus device type for the machine "
            + "(intel-iommu needs -M q35)", error("-kernel", "k", "-device", "intel-iommu"));
        assertEquals("-device intel-iommu: Supported values for aw-bits are: 39, 48",
            error("-M", "q35", "-kernel", "k", "-device", "intel-iommu,aw-bits=40"));
        assertEquals("-device intel-iommu: QEMU does not support multiple vIOMMUs for x86 yet.",
            error("-M", "q35", "-kernel", "k", "-device", "intel-iommu", "-device", "intel-iommu"));
        assertEquals("-device intel-iommu: Parameter 'caching-mode' expects 'on' or 'off'",
            error("-M", "q35", "-kernel", "k", "-device", "intel-iommu,caching-mode=maybe"));
        assertEquals("-device intel-iommu: x-scalable-mode=on: jvisor's intel-iommu has legacy mode only",
            error("-M", "q35", "-kernel", "k", "-device", "intel-iommu,x-scalable-mode=on"));
        assertEquals(new MachineConfig.IommuConfig(null, false, false, 39, false),
            parse("-M", "q35", "-kernel", "k", "-device", "{\"driver\": \"intel-iommu\", \"eim\": \"off\"}").iommu());
        assertEquals(new MachineConfig.IommuConfig(true, false, false, 39, true),
            parse("-M", "q35", "-kernel", "k", "-device", "intel-iommu,intremap=on,eim=on").iommu());
        assertEquals("-device intel-iommu: eim=on cannot be selected without intremap=on",
            error("-M", "q35", "-kernel", "k", "-device", "intel-iommu,intremap=off,eim=on"));
    }

    @Test
    void virtioPciTakesTheDmaPropertiesAndItsModernOnlyTruth() throws UsageException {
        MachineConfig c = parse("-M", "q35", "-kernel", "k", "-device", "intel-iommu", "-device", "virtio-rng-pci",
            "-device", "virtio-rng-pci,iommu_platform=on,disable-legacy=on,disable-modern=off");
        assertEquals(Map.of(1, new MachineConfig.PciDmaConfig(true, false)), c.pciDma());
        assertEquals(new MachineConfig.PciDmaConfig(false, false), c.pciDma(0));
        assertEquals("-device virtio-rng-pci: disable-legacy=off: jvisor's virtio-pci devices are modern-only (no legacy "
            + "or transitional device); leave it out or give disable-legacy=on",
            error("-kernel", "k", "-device", "virtio-rng-pci,disable-legacy=off"));
        assertEquals("-device virtio-blk-pci: disable-modern=on: jvisor's virtio-pci devices are modern-only (there is "
            + "no legacy device to fall back to)",
            error("-kernel", "k", "-drive", "id=d,file=a.img,format=raw,if=none", "-device", "virtio-blk-pci,drive=d,disable-modern=on"));
        assertEquals("-device virtio-rng-pci: iommu_platform='sure' (expected on or off)",
            error("-kernel", "k", "-device", "virtio-rng-pci,iommu_platform=sure"));
        // disable-legacy=auto is QEMU's default spelled out
        assertEquals(Map.of(), parse("-kernel", "k", "-device", "virtio-rng-pci,disable-legacy=auto").pciDma());
    }

    /**
     * A vhost-user backend reads the rings by the addresses the guest wrote; behind an IOMMU
     * those are IOVAs that only IOTLB messages would let it translate, which jvisor does not send.
     */
    @Test
    void vhostUserRefusesIommuPlatform() throws UsageException {
        String[] common = {"-M", "q35", "-kernel", "k", "-object", "memory-backend-memfd,id=m,size=128M,share=on",
            "-machine", "memory-backend=m", "-chardev", "socket,id=c,path=/tmp/none.sock", "-device", "intel-iommu"};
        for (String device : new String[] {"vhost-user-blk-pci,chardev=c", "vhost-user-fs-pci,chardev=c,tag=t"}) {
            String driver = device.substring(0, device.indexOf(','));
            assertEquals("-device " + driver + ",iommu_platform=on: IOMMU support requires reply-ack and slave-req protocol "
                + "features. (jvisor's vhost-user sends no IOTLB messages, so the backend could not translate the guest's "
                + "IOVAs; leave iommu_platform off)",
                error(java.util.stream.Stream.concat(java.util.Arrays.stream(common),
                    java.util.stream.Stream.of("-device", device + ",iommu_platform=on,disable-legacy=on")).toArray(String[]::new)));
            // the other virtio-pci properties QEMU users write are taken, as on the other virtio-pci devices
            MachineConfig c = parse(java.util.stream.Stream.concat(java.util.Arrays.stream(common),
                java.util.stream.Stream.of("-device", device + ",iommu_platform=off,disable-legacy=on")).toArray(String[]::new));
            assertEquals(new MachineConfig.PciDmaConfig(false, false), c.pciDma(0), "untranslated rings, no ACCESS_PLATFORM");
        }
    }
}
