package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * A machine's devices are one ordered registry with stable ids; the whole list saves and restores
 * into a second machine of the same configuration, and a list that does not match is refused.
 * (A guest test because it builds whole machines around the spin guest; none of them runs.)
 */
@GuestTest
class MachineDevicesTest {
    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    static MachineConfig config(MachineConfig.MachineType type, MachineConfig.Transport transport) {
        return MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(64L << 20).cpus(2)
            .kernel(JvisorProcess.guest("spin.elf")).noReboot(true).machineType(type)
            .debugExit(new MachineConfig.DebugExitConfig(0xF4, 4))
            .device(new MachineConfig.VirtioDeviceConfig.VirtioRng(transport))
            .device(new MachineConfig.VirtioDeviceConfig.VirtioRng(transport)).build();
    }

    @Test
    void aPcListsItsDevicesInBuildOrder() throws Exception {
        try (Machine m = Machine.create(config(MachineConfig.MachineType.PC, MachineConfig.Transport.PCI), QUIET, e -> { })) {
            assertEquals(List.of("pic", "ioapic", "lapic0", "lapic1", "pit", "rtc", "i8042", "pci-host@pci.0:00.0",
                "serial0", "virtio-rng0@pci.0:01.0", "virtio-rng1@pci.0:02.0", "isa-debug-exit@0xf4"), m.devices().ids());
        }
    }

    @Test
    void aMicrovmNamesItsVirtioDevicesByTransportSlot() throws Exception {
        try (Machine m = Machine.create(config(MachineConfig.MachineType.MICROVM, MachineConfig.Transport.MMIO), QUIET, e -> { })) {
            List<String> ids = m.devices().ids();
            assertTrue(ids.containsAll(List.of("virtio-rng0@virtio-mmio.0", "virtio-rng1@virtio-mmio.1")), ids.toString());
        }
    }

    @Test
    void everyDeviceRestoresIntoAMachineOfTheSameConfiguration() throws Exception {
        MachineConfig config = config(MachineConfig.MachineType.PC, MachineConfig.Transport.PCI);
        try (Machine a = Machine.create(config, QUIET, e -> { }); Machine b = Machine.create(config, QUIET, e -> { })) {
            a.io().write(0x21, 1, 0xB8);                    // PIC master IMR
            a.io().write(0x70, 1, 0x40);                    // CMOS byte 0x40
            a.io().write(0x71, 1, 0x5A);
            List<DeviceRegistry.Saved> saved = a.devices().save();
            b.devices().restore(saved);
            assertEquals(0xB8, b.io().read(0x21, 1));
            b.io().write(0x70, 1, 0x40);
            assertEquals(0x5A, b.io().read(0x71, 1));
            // Devices whose state does not move with the clock save back equal.
            List<DeviceRegistry.Saved> again = b.devices().save();
            for (int i = 0; i < saved.size(); i++) {
                String id = saved.get(i).id();
                if (!Set.of("pit", "rtc").contains(id)) {
                    assertEquals(saved.get(i), again.get(i), id);
                }
            }
        }
    }

    @Test
    void aSavedListOfAnotherMachineIsRefusedNamingTheDevice() throws Exception {
        try (Machine a = Machine.create(config(MachineConfig.MachineType.PC, MachineConfig.Transport.PCI), QUIET, e -> { })) {
            List<DeviceRegistry.Saved> saved = a.devices().save();
            List<DeviceRegistry.Saved> shorter = saved.subList(0, saved.size() - 1);
            DeviceStateException e = assertThrows(DeviceStateException.class, () -> a.devices().restore(shorter));
            assertTrue(e.getMessage().contains("is nothing in the state but virtio-rng1@pci.0:02.0 here"), e.getMessage());

            List<DeviceRegistry.Saved> swapped = new ArrayList<>(saved);
            swapped.set(1, new DeviceRegistry.Saved("ioapic", saved.get(0).state()));
            e = assertThrows(DeviceStateException.class, () -> a.devices().restore(swapped));
            assertTrue(e.getMessage().startsWith("ioapic: "), e.getMessage());
            assertTrue(e.getMessage().contains("expected a IoApicState, got a PicState"), e.getMessage());
        }
    }

    /**
     * The same devices listed in another order (a device hot-plugged where the state was saved is
     * on the restoring machine's command line, elsewhere in its list) restore by id.
     */
    @Test
    void theSameDevicesInAnotherOrderRestoreById() throws Exception {
        MachineConfig config = config(MachineConfig.MachineType.PC, MachineConfig.Transport.PCI);
        try (Machine a = Machine.create(config, QUIET, e -> { }); Machine b = Machine.create(config, QUIET, e -> { })) {
            a.io().write(0x21, 1, 0xB8);                    // PIC master IMR
            List<DeviceRegistry.Saved> saved = new ArrayList<>(a.devices().save());
            java.util.Collections.reverse(saved);
            b.devices().restore(saved);
            assertEquals(0xB8, b.io().read(0x21, 1));
        }
    }

    @Test
    void aResetIsALoopOverTheDevices() throws Exception {
        try (Machine m = Machine.create(config(MachineConfig.MachineType.PC, MachineConfig.Transport.PCI), QUIET, e -> { })) {
            m.io().write(0x21, 1, 0x00);                    // unmask every master IRQ
            m.io().write(0x64, 1, 0xAD);                    // i8042: keyboard interface off
            m.devices().reset();
            assertEquals(0xFF, m.io().read(0x21, 1), "the PIC's IMR after reset");
            m.io().write(0x64, 1, 0x20);
            assertEquals(0, m.io().read(0x60, 1) & 0x10, "the keyboard interface is on again");
        }
    }
}
