package org.jvisor.machine;

import java.util.List;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;
import org.jvisor.testing.QemuReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * guests/vtd.c programs the VT-d unit itself on {@code -M q35 -device intel-iommu}: root, context
 * and page tables with IOVA != GPA, queued invalidation with wait descriptors, translation on;
 * virtio-rng-pci with ACCESS_PLATFORM runs through it; an unmapped buffer is a fault record
 * (reason 5, the device's source id and page), one fault event MSI and DEVICE_NEEDS_RESET; FPD
 * suppresses the record; a TT=01 context entry is invalid without device-iotlb=on, and with it
 * and ats=on the device keeps a device-TLB. On both engines (the fault event goes to the LAPICs
 * on tcg, through KVM_SIGNAL_MSI on kvm). QEMU 7.2, the reference, passes the same guest with the
 * same options (its Multiboot build, vtd.mb.elf), with and without device-iotlb=on, on both CPU
 * models {@code make -C guests qemu-check} runs (skipped where qemu-system-x86_64 is not installed).
 */
@GuestTest
class VtdTestGuestTest {

    /**
     * The command line both VMMs get; {@code kernel} is vtd.elf for jvisor, vtd.mb.elf (the same
     * guest behind a Multiboot entry) for QEMU, whose -kernel loads no other 64-bit image.
     */
    private static List<String> options(String accel, String cpu, String iommu, String pciProperties, String kernel) {
        return List.of("-accel", accel, "-cpu", cpu, "-M", "q35", "-nographic", "-no-reboot", "-m", "256M", "-nic", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-device", iommu,
            "-device", "virtio-rng-pci,iommu_platform=on,disable-legacy=on" + pciProperties,
            "-kernel", JvisorProcess.guest(kernel).toString());
    }

    private static JvisorProcess.Result run(String accel, String iommu, String pciProperties) throws Exception {
        var r = JvisorProcess.run(options(accel, "qemu64", iommu, pciProperties, "vtd.elf").toArray(String[]::new));
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stdout().contains("vtd: 16 requests through IOVAs at GPA + 0x40000000\n"), r.toString());
        assertTrue(r.stdout().contains("1 fault interrupt(s); the device reports DEVICE_NEEDS_RESET\n"), r.toString());
        assertTrue(r.stdout().endsWith("PASS\n"), r.toString());
        assertTrue(r.stderr().contains("refused by the IOMMU (fault reason 0x5)"), "the device's NEEDS_RESET reason: " + r);
        return r;
    }

    private static void run(String accel) throws Exception {
        var r = run(accel, "intel-iommu", "");
        // a context entry with TT=01 (device-TLB) is invalid without ECAP.DT, as on QEMU 7.2
        assertTrue(r.stdout().contains("vtd: TT=01 without ECAP.DT: FSTS 0x2 FRCD 0x4011f000 0x8000000300000008"), r.toString());
    }

    /**
     * device-iotlb=on, ats=on: the guest enables ATS; after an IOTLB invalidation alone the device
     * still uses its device-TLB's translation, after a device-IOTLB one the new page. (QEMU 7.2 has
     * no ATS capability on bus 0 and no device-TLB in its emulated devices: there the IOTLB
     * invalidation alone moves the request; the rest of the guest passes the same.)
     */
    @Test
    void aDeviceKeepsItsDeviceTlbUntilADeviceIotlbInvalidation() throws Exception {
        var r = run("tcg", "intel-iommu,device-iotlb=on", ",ats=on");
        String out = r.stdout();
        assertTrue(out.contains("vtd: ECAP.DT, TT=01 accepted; ATS capability found and enabled\n"), r.toString());
        assertTrue(out.contains("vtd: after the IOTLB invalidation alone the request lands in the old page\n"), r.toString());
        assertTrue(out.contains("vtd: after the device-IOTLB invalidation it lands in the new page\n"), r.toString());
        assertTrue(out.contains("vtd: a reserved bit in a device-IOTLB descriptor: IQE\n"), r.toString());
    }

    @Test
    void theGuestDrivesTheIommuAndSeesItsFaultOnTcg() throws Exception {
        run("tcg");
    }

    /** A run of QEMU 7.2: its CPU model, and whether the unit has device-iotlb=on (and the function ats=on). */
    record QemuRun(String cpu, boolean deviceTlb) {
    }

    static List<QemuRun> qemuRuns() {
        return List.of(new QemuRun("qemu64", false), new QemuRun("qemu64", true), new QemuRun("max", false),
            new QemuRun("max", true));
    }

    /**
     * The reference: QEMU 7.2 passes the same guest. Where the two differ the guest says which way
     * it went: QEMU completes the refused request without its data (jvisor: DEVICE_NEEDS_RESET),
     * and shows no ATS capability on bus 0, so its IOTLB invalidation alone moves the request.
     */
    @ParameterizedTest
    @MethodSource("qemuRuns")
    void qemu72PassesTheSameGuest(QemuRun run) throws Exception {
        var r = QemuReference.exec(options("tcg", run.cpu(), run.deviceTlb() ? "intel-iommu,device-iotlb=on" : "intel-iommu",
            run.deviceTlb() ? ",ats=on" : "", "vtd.mb.elf"));
        String out = r.output().replace("\r", "");
        assertEquals(33, r.status(), "isa-debug-exit with the guest's PASS: " + out);
        assertTrue(out.contains("vtd: unit at 0xfed90000: cap 0xd2008c22260206 ecap 0xf00f4" + (run.deviceTlb() ? "e" : "a")), out);
        assertTrue(out.contains("vtd: 16 requests through IOVAs at GPA + 0x40000000\n"), out);
        assertTrue(out.contains("1 fault interrupt(s); the device completed the request without its data\n"), out);
        assertTrue(out.contains("vtd: with FPD the refused request left no record\n"), out);
        if (run.deviceTlb()) {
            assertTrue(out.contains("vtd: ECAP.DT, TT=01 accepted; no ATS capability\n"), out);
            assertTrue(out.contains("vtd: after the IOTLB invalidation alone the request lands in the new page\n"), out);
            assertTrue(out.contains("vtd: a reserved bit in a device-IOTLB descriptor: IQE\n"), out);
        } else {
            assertTrue(Pattern.compile("vtd: TT=01 without ECAP\\.DT: FSTS 0x2 FRCD 0x4011f000 0x[89abcdef]0000003000000[0-9a-f]{2}")
                .matcher(out).find(), "fault reason 3 for the TT=01 context entry: " + out);
        }
        assertTrue(out.endsWith("PASS\n"), out);
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
