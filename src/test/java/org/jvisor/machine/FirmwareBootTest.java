package org.jvisor.machine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.config.MachineConfig;
import org.jvisor.devices.pci.Q35HostBridge;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.ReportingBootSector;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SeaBIOS (Debian's seabios package) boots a raw disk on virtio-blk on tcg: from the reset vector
 * through POST, fw_cfg and the PCI scan to the disk's MBR, which this test writes itself
 * ({@link ReportingBootSector}: it prints through INT 10h and COM1 and ends jvisor through
 * isa-debug-exit).
 */
@GuestTest
class FirmwareBootTest {
    private static Path disk(Path dir, byte[] mbr) throws Exception {
        byte[] img = new byte[1 << 20];
        System.arraycopy(mbr, 0, img, 0, mbr.length);
        Path p = dir.resolve("disk.img");
        Files.write(p, img);
        return p;
    }

    @Test
    void seabiosBootsTheMbrOfAVirtioDisk(@TempDir Path dir) throws Exception {
        Path img = disk(dir, ReportingBootSector.bytes());
        JvisorProcess.Result r = JvisorProcess.run("-accel", "tcg", "-m", "128M", "-nographic", "-smp", "2",
            "-drive", "file=" + img + ",format=raw,if=virtio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04");
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stdout().contains("SeaBIOS (version"), r.toString());
        assertTrue(r.stdout().contains("Booting from Hard Disk..."), r.toString());
        assertTrue(r.stdout().contains(ReportingBootSector.VIA_INT10), r.toString());
        assertTrue(r.stdout().contains(ReportingBootSector.VIA_COM1), r.toString());
    }

    /** SeaBIOS's AHCI driver finds a disk on a -device ahci controller (the pc machine) and boots it. */
    @Test
    void seabiosBootsTheMbrOfAnAhciDisk(@TempDir Path dir) throws Exception {
        Path img = disk(dir, ReportingBootSector.bytes());
        JvisorProcess.Result r = JvisorProcess.run("-accel", "tcg", "-m", "128M", "-nographic",
            "-drive", "file=" + img + ",format=raw,if=none,id=d", "-device", "ahci,id=sata0",
            "-device", "ide-hd,drive=d,bus=sata0.0", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04");
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stdout().contains("Booting from Hard Disk..."), r.toString());
        assertTrue(r.stdout().contains(ReportingBootSector.VIA_COM1), r.toString());
    }

    /**
     * SeaBIOS on the Q35 (it knows the chipset by the MCH: ECAM through PCIEXBAR, PAM at 0x90, the
     * ICH9's PM timer) boots a disk on the machine's own AHCI at 00:1f.2 (-hda), and a virtio disk
     * behind a PCI Express root port, as libvirt lays out a q35 domain: SeaBIOS numbers the root
     * port's bus and opens its windows for the device.
     */
    @Test
    void seabiosOnQ35BootsTheMbrFromItsAhciAndBehindARootPort(@TempDir Path dir) throws Exception {
        Path img = disk(dir, ReportingBootSector.bytes());
        JvisorProcess.Result sata = JvisorProcess.run("-accel", "tcg", "-M", "q35", "-m", "128M", "-nographic",
            "-hda", img.toString(), "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04");
        assertEquals(33, sata.status(), sata.toString());
        assertTrue(sata.stdout().contains("Booting from Hard Disk..."), sata.toString());
        assertTrue(sata.stdout().contains(ReportingBootSector.VIA_COM1), sata.toString());
        JvisorProcess.Result port = JvisorProcess.run("-accel", "tcg", "-M", "q35", "-m", "128M", "-nographic",
            "-device", "pcie-root-port,port=16,chassis=1,id=pci.1,bus=pcie.0,addr=0x2",
            "-drive", "file=" + img + ",format=raw,if=none,id=d", "-device", "virtio-blk-pci,drive=d,bus=pci.1,addr=0x0",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04");
        assertEquals(33, port.status(), port.toString());
        assertTrue(port.stdout().contains(ReportingBootSector.VIA_COM1), port.toString());
    }

    /**
     * A disk without the boot signature: SeaBIOS says so, waits reboot-timeout and resets, which
     * -no-reboot turns into the end of jvisor. The boot menu prompt comes first.
     */
    @Test
    void aDiskThatIsNotBootableIsReportedAndTheMachineResets(@TempDir Path dir) throws Exception {
        Path img = disk(dir, new byte[512]);
        JvisorProcess.Result r = JvisorProcess.run("-accel", "tcg", "-m", "64M", "-nographic", "-no-reboot",
            "-boot", "order=c,menu=on,splash-time=100,reboot-timeout=0",
            "-drive", "file=" + img + ",format=raw,if=virtio");
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.stdout().contains("Press ESC for boot menu"), r.toString());
        assertTrue(r.stdout().contains("Boot failed: not a bootable disk"), r.toString());
    }

    /** A boot sector that counts in the dword at 0x600 for ever. */
    private static byte[] counterSector() {
        byte[] mbr = new byte[512];
        byte[] code = {
            0x31, (byte) 0xC0, (byte) 0x8E, (byte) 0xD8,   // xor ax, ax; mov ds, ax
            0x66, (byte) 0xFF, 0x06, 0x00, 0x06,            // 4: inc dword [0x600]
            (byte) 0xEB, (byte) 0xF9,                       // 9: jmp 4
        };
        System.arraycopy(code, 0, mbr, 0, code.length);
        mbr[510] = 0x55;
        mbr[511] = (byte) 0xAA;
        return mbr;
    }

    /**
     * A machine that booted through SeaBIOS is saved and restored: the restored one holds the same
     * RAM and device records (fw_cfg, port 0x92, the 440FX or the Q35 MCH with SeaBIOS's PAM
     * setting, which makes the F segment read-only again, and on the Q35 the ECAM window where
     * SeaBIOS placed it), has its ROM, and runs on.
     */
    @ParameterizedTest(name = "q35={0}")
    @ValueSource(booleans = {false, true})
    void aFirmwareMachineIsSavedAndRestored(boolean q35, @TempDir Path dir) throws Exception {
        Path img = disk(dir, counterSector());
        MachineConfig config = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(64L << 20)
            .machineType(q35 ? MachineConfig.MachineType.Q35 : MachineConfig.MachineType.PC)
            .drive(new MachineConfig.DriveConfig("d0", img, false, "writeback", false))
            .device(new MachineConfig.VirtioDeviceConfig.VirtioBlk("d0", MachineConfig.Transport.PCI))
            .build();
        Path file = dir.resolve("fw.jvsnap");
        List<MachineEvent> events = new CopyOnWriteArrayList<>();
        List<DeviceRegistry.Saved> before;
        byte[] ramBefore = new byte[1 << 20];
        long counter;
        try (Machine m = Machine.create(config, System.err, events::add)) {
            m.resume();
            while ((m.ram().readU32(0x600) & 0xFFFF_FFFFL) < 100_000) {
                Thread.sleep(1); // the surefire/failsafe timeout is the hang guard
            }
            m.pause();
            counter = m.ram().readU32(0x600) & 0xFFFF_FFFFL;
            assertTrue(m.ram().writeProtected(0xF0000), "SeaBIOS closed the F segment before booting");
            m.saveSnapshot(new MigrationEndpoint.File(file), "paused");
            before = m.devices().save();
            m.ram().read(0, ramBefore, 0, ramBefore.length);
        }
        try (Machine m = Machine.create(config, System.err, events::add, new MigrationEndpoint.File(file))) {
            byte[] ramAfter = new byte[1 << 20];
            m.ram().read(0, ramAfter, 0, ramAfter.length);
            // below the BIOS area: SeaBIOS keeps its kvmclock record at 0xE8C20, which the vCPU
            // publishes again (a new version) when it is restored
            assertArrayEquals(java.util.Arrays.copyOf(ramBefore, 0xE0000), java.util.Arrays.copyOf(ramAfter, 0xE0000),
                "RAM below 0xE0000");
            assertEquals((byte) 0xEA, m.ram().readU8(0xFFFF_FFF0L), "the ROM's reset vector: a far jump");
            assertTrue(m.ram().writeProtected(0xF0000), "PAM restored");
            if (q35) {
                assertEquals(0x8086 | Q35HostBridge.DEVICE_ID << 16, m.mmio().read(0xB000_0000L, 4),
                    "the MCH's own ID through the ECAM window PCIEXBAR placed");
            }
            List<DeviceRegistry.Saved> after = m.devices().save();
            assertEquals(before.stream().map(DeviceRegistry.Saved::id).toList(),
                after.stream().map(DeviceRegistry.Saved::id).toList());
            assertTrue(after.stream().anyMatch(d -> d.id().equals("fw_cfg")));
            for (int i = 0; i < before.size(); i++) {
                DeviceState b = before.get(i).state();
                DeviceState a = after.get(i).state();
                // clock-driven, and the PIC with them: SeaBIOS runs the PIT, whose IRQ0 edges the
                // PIC latches while the machine is paused (also between the save and this record)
                if (Set.of("rtc", "pit", "lapic0", "acpi-pm", "pic").contains(before.get(i).id())) {
                    assertEquals(b.getClass(), a.getClass(), before.get(i).id());
                } else {
                    assertEquals(b, a, before.get(i).id());
                }
            }
            m.resume();
            while ((m.ram().readU32(0x600) & 0xFFFF_FFFFL) <= counter + 100_000) {
                Thread.sleep(1);
            }
            m.pause();
        }
        assertEquals(List.of(), events, "the guest asked for nothing");
    }
}
