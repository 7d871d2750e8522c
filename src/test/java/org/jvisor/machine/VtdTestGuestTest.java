package org.jvisor.machine;

import org.junit.jupiter.api.Test;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * guests/vtd.c programs the VT-d unit itself on {@code -M q35 -device intel-iommu}: root, context
 * and page tables with IOVA != GPA, queued invalidation with wait descriptors, translation on;
 * virtio-rng-pci with ACCESS_PLATFORM runs through it; an unmapped buffer is a fault record
 * (reason 5, the device's source id and page), one fault event MSI and DEVICE_NEEDS_RESET; FPD
 * suppresses the record. On both engines (the fault event goes to the LAPICs on tcg, through
 * KVM_SIGNAL_MSI on kvm). QEMU 7.2 passes the same guest ({@code make -C guests qemu-check}).
 */
@GuestTest
class VtdTestGuestTest {

    private static void run(String accel) throws Exception {
        var r = JvisorProcess.run("-accel", accel, "-M", "q35", "-nographic", "-m", "256M",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-device", "intel-iommu",
            "-device", "virtio-rng-pci,iommu_platform=on,disable-legacy=on",
            "-kernel", JvisorProcess.guest("vtd.elf").toString());
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stdout().contains("vtd: 16 requests through IOVAs at GPA + 0x40000000\n"), r.toString());
        assertTrue(r.stdout().contains("1 fault interrupt(s); the device reports DEVICE_NEEDS_RESET\n"), r.toString());
        assertTrue(r.stdout().endsWith("PASS\n"), r.toString());
        assertTrue(r.stderr().contains("refused by the IOMMU (fault reason 0x5)"), "the device's NEEDS_RESET reason: " + r);
    }

    @Test
    void theGuestDrivesTheIommuAndSeesItsFaultOnTcg() throws Exception {
        run("tcg");
    }

    @Test
    void theSameOnKvm() throws Exception {
        KvmAvailability.assumeKvm();
        run("kvm");
    }

    @Test
    void interruptRemappingIsRefusedOnKvmInQemusWords() throws Exception {
        KvmAvailability.assumeKvm();
        var r = JvisorProcess.run("-accel", "kvm", "-M", "q35", "-nographic", "-device", "intel-iommu,intremap=on",
            "-kernel", JvisorProcess.guest("hello.elf").toString());
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.stderr().contains("-device intel-iommu,intremap=on: Interrupt Remapping cannot work with "
            + "kernel-irqchip=on, please use 'split|off'."), r.toString());
    }
}
