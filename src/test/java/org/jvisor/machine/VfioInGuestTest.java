package org.jvisor.machine;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.QemuReference;
import org.jvisor.testing.LinuxGuestPrograms;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * VFIO inside the guest, the use a virtual IOMMU exists for (device assignment to a nested VM or
 * a user-space driver): the demo guest loads Debian's vfio-pci and vfio_iommu_type1 from its
 * initramfs (modprobe), binds the virtio-rng function to vfio-pci, and guests/linux/vfiorng.c
 * drives it from user space through VFIO's type 1 IOMMU: its DMA window sits at an I/O virtual
 * address that is not the buffer's guest-physical address (so the device's reads and writes work
 * only through the second-level tables the guest kernel wrote), its queue interrupt is MSI-X on
 * an eventfd (remapped by the unit); then the data buffer's mapping is unmapped and the device
 * handed that buffer again: refused, with the fault record for the just-unmapped address that
 * the guest kernel reports. QEMU 7.2 runs the same guest.
 */
@GuestTest
class VfioInGuestTest {
    /** Binds the virtio-rng function (1af4:1044) to vfio-pci and runs the program on its group. */
    private static final String COMMAND = String.join("; ",
        "modprobe vfio-pci && modprobe vfio_iommu_type1 && echo vfio-modules-loaded",
        "for d in /sys/bus/pci/devices/*; do [ $(cat $d/device) = 0x1044 ] && D=${d##*/}; done",
        "echo vfio-pci > /sys/bus/pci/devices/$D/driver_override",
        "echo $D > /sys/bus/pci/devices/$D/driver/unbind",
        "echo $D > /sys/bus/pci/drivers_probe",
        "echo driver=$(basename $(readlink /sys/bus/pci/devices/$D/driver))",
        "vfiorng $(basename $(readlink /sys/bus/pci/devices/$D/iommu_group)) $D",
        "echo vfiorng-status=$?",
        "dmesg | grep 'DMAR: \\[DMA'");

    private static List<String> options(GuestBuilder.Guest guest, Path initramfs) {
        return List.of("-accel", "tcg", "-M", "q35", "-m", "512M", "-nographic", "-no-reboot",
            "-kernel", guest.kernel().toString(), "-initrd", initramfs.toString(),
            "-append", DemoGuest.CONSOLE + " quiet " + InitScript.cmdParameterBase64(COMMAND),
            "-device", "intel-iommu", "-device", "virtio-rng-pci,iommu_platform=on,disable-legacy=on");
    }

    /** What both VMMs must show: the bytes read through the window and the refused write's record. */
    private static void assertVfioWorked(String out, String who) {
        assertTrue(out.contains("vfio-modules-loaded") && out.contains("driver=vfio-pci"), who + ": " + out);
        Matcher bytes = Pattern.compile("vfiorng: 64 random bytes through IOVA 0x10004000: ([0-9a-f]{128})").matcher(out);
        assertTrue(bytes.find(), who + ": no entropy through the DMA window: " + out);
        assertTrue(out.contains("vfiorng: unmapped IOVA 0x10004000-0x1000ffff"), who + ": " + out);
        assertTrue(out.contains("vfiorng: ok") && out.contains("vfiorng-status=0"), who + ": " + out);
        assertTrue(Pattern.compile("DMAR: \\[DMA Write NO_PASID\\] Request device \\[00:0\\d\\.0\\] fault addr 0x10004000 "
            + "\\[fault reason 0x05\\] PTE Write access is not set").matcher(out).find(),
            who + ": the unit's fault record for the write to the just-unmapped buffer: " + out);
    }

    @Test
    void aUserSpaceDriverUsesTheDeviceThroughVfioAndTheUnitConfinesIt(@TempDir Path dir) throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        Path initramfs = LinuxGuestPrograms.withPrograms(guest.initramfs(), dir, LinuxGuestPrograms.compile("vfiorng", dir));

        var r = JvisorProcess.run(options(guest, initramfs).toArray(String[]::new));
        assertEquals(0, r.status(), r.toString());
        assertVfioWorked(r.stdout(), "jvisor");
        // jvisor stops the device on the refused DMA, as on any DMA error (QEMU drops the data)
        assertTrue(r.stdout().contains("vfiorng: DMA to unmapped IOVA 0x10004000: device needs reset"), r.toString());
        assertTrue(r.stderr().contains("DMA write of IOVA 0x10004000 by 00:01.0 refused by the IOMMU (fault reason 0x5)"),
            r.toString());

        String out = QemuReference.run(options(guest, initramfs));
        assertVfioWorked(out, "QEMU 7.2");
        assertTrue(out.contains("vfiorng: DMA to unmapped IOVA 0x10004000: completed"), "QEMU 7.2: " + out);
    }
}
