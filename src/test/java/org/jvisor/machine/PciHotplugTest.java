package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.jvisor.cli.CommandLine;
import org.jvisor.config.HotplugDevice;
import org.jvisor.config.MachineConfig;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * device_add and device_del on a built machine, with the test as the guest's hot-plug driver:
 * on q35 behind a pcie-root-port (pciehp's sequence through the port's Slot Control and Status,
 * PCIe base spec 7.5.3.10-11), on pc through ACPI PCI hot-plug's registers (QEMU's PIIX4
 * interface: the up and down bitmaps at 0xAE00/0xAE04, the eject register at 0xAE08, GPE0 bit 1).
 * (A guest test because it builds machines around the spin guest; none of them runs.)
 */
@GuestTest
class PciHotplugTest {
    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
    private static final int SLOT_CONTROL = 0x18, SLOT_STATUS = 0x1A;
    private static final int ABPE = 1, PDCE = 1 << 3, CCIE = 1 << 4, HPIE = 1 << 5, PIC_ON = 1 << 8, PIC_BLINK = 2 << 8, PIC_OFF = 3 << 8, PCC = 1 << 10,
        DLLSCE = 1 << 12;
    private static final int ABP = 1, PDC = 1 << 3, PDS = 1 << 6, DLLSC = 1 << 8;

    private final BlockingQueue<MachineEvent> events = new LinkedBlockingQueue<>();

    /** The spin guest's machine (built, never run). */
    private static MachineConfig spin(String... machine) throws Exception {
        return config(JvisorProcess.guest("spin.elf").toString(), machine);
    }

    private static MachineConfig config(String kernel, String... machine) throws Exception {
        String[] base = {"-accel", "tcg", "-m", "64M", "-kernel", kernel, "-no-reboot"};
        String[] all = new String[base.length + machine.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(machine, 0, all, base.length, machine.length);
        return ((CommandLine.Action.Run) CommandLine.parse(all)).config();
    }

    private static HotplugDevice rng(String id, String bus) {
        return new HotplugDevice(id, "virtio-rng-pci", new MachineConfig.VirtioDeviceConfig.VirtioRng(MachineConfig.Transport.PCI),
            bus, null, null);
    }

    /** A configuration read through 0xCF8/0xCFC, as the guest makes it. */
    private static int config(Machine m, int bus, int slot, int offset, int size) {
        m.io().write(0xCF8, 4, 0x8000_0000 | bus << 16 | slot << 11 | offset & 0xFC);
        return (int) m.io().read(0xCFC + (offset & 3), size);
    }

    private static void writeConfig(Machine m, int bus, int slot, int offset, int size, int value) {
        m.io().write(0xCF8, 4, 0x8000_0000 | bus << 16 | slot << 11 | offset & 0xFC);
        m.io().write(0xCFC + (offset & 3), size, value);
    }

    private static int find(Machine m, int vendorDevice) {
        for (int s = 0; s < 32; s++) {
            if (config(m, 0, s, 0, 4) == vendorDevice) {
                return s;
            }
        }
        throw new AssertionError(String.format("no %08x on bus 0", vendorDevice));
    }

    /** The offset of capability {@code id} in the function's list. */
    private static int capability(Machine m, int bus, int slot, int id) {
        for (int at = config(m, bus, slot, 0x34, 1); at != 0; at = config(m, bus, slot, at + 1, 1)) {
            if (config(m, bus, slot, at, 1) == id) {
                return at;
            }
        }
        throw new AssertionError("no capability " + id);
    }

    private MachineEvent.DeviceDeleted deleted() throws InterruptedException {
        while (true) {
            MachineEvent e = events.poll(60, TimeUnit.SECONDS);
            assertNotNull(e, "no DEVICE_DELETED");
            if (e instanceof MachineEvent.DeviceDeleted d) {
                return d;
            }
        }
    }

    @Test
    void q35PlugsBehindARootPortAndUnplugsWhenTheGuestPowersTheSlotOff() throws Exception {
        try (Machine m = Machine.create(spin("-M", "q35", "-device", "pcie-root-port,id=rp1,chassis=1,slot=1"), QUIET, events::add)) {
            int port = find(m, 0x000C_1B36);
            writeConfig(m, 0, port, 0x18, 4, 0x0001_0100);      // primary 0, secondary 1, subordinate 1
            int exp = capability(m, 0, port, 0x10);
            writeConfig(m, 0, port, exp + SLOT_CONTROL, 2, ABPE | PDCE | CCIE | HPIE | DLLSCE);
            writeConfig(m, 0, port, exp + SLOT_STATUS, 2, 0xFFFF);
            assertEquals(0xFFFF, config(m, 1, 0, 0, 2));        // an empty slot

            m.hotplug(rng("rng1", "rp1"));
            int status = config(m, 0, port, exp + SLOT_STATUS, 2);
            assertEquals(PDS | PDC | DLLSC, status & (PDS | PDC | DLLSC), Integer.toHexString(status));
            assertEquals(0x1044_1AF4, config(m, 1, 0, 0, 4));    // virtio-rng, modern (virtio 1.2, 4.1.2.1)
            assertTrue(m.devices().ids().contains("virtio-rng0@rp1:00.0"), m.devices().ids().toString());
            MachineException twice = assertThrows(MachineException.class, () -> m.hotplug(rng("rng1", "rp1")));
            assertEquals("Duplicate device ID 'rng1'", twice.getMessage());
            writeConfig(m, 0, port, exp + SLOT_STATUS, 2, 0xFFFF);

            m.unplug("rng1");                                   // the attention button
            assertEquals(ABP, config(m, 0, port, exp + SLOT_STATUS, 2) & ABP);
            MachineException pending = assertThrows(MachineException.class, () -> m.unplug("rng1"));
            assertEquals("Device 'rng1' is already in the process of unplug", pending.getMessage());
            assertEquals(0x1044_1AF4, config(m, 1, 0, 0, 4));    // still there until the guest lets go

            int control = config(m, 0, port, exp + SLOT_CONTROL, 2);
            writeConfig(m, 0, port, exp + SLOT_CONTROL, 2, control | PCC | PIC_OFF);   // pciehp powers the slot off
            assertEquals("rng1", deleted().id());
            assertEquals(0xFFFF, config(m, 1, 0, 0, 2));
            assertEquals(0, config(m, 0, port, exp + SLOT_STATUS, 2) & PDS);
            assertTrue(m.devices().ids().stream().noneMatch(id -> id.startsWith("virtio-rng0")), m.devices().ids().toString());
            MachineException gone = assertThrows(MachineException.class, () -> m.unplug("rng1"));
            assertTrue(gone.getMessage().startsWith("Device 'rng1' is not a PCI device jvisor can unplug"), gone.getMessage());

            // the port takes a device again, under a new name
            writeConfig(m, 0, port, exp + SLOT_CONTROL, 2, ABPE | PDCE | CCIE | HPIE | DLLSCE);
            m.hotplug(rng("rng2", "rp1"));
            assertEquals(0x1044_1AF4, config(m, 1, 0, 0, 4));
            assertTrue(m.devices().ids().contains("virtio-rng1@rp1:00.0"), m.devices().ids().toString());

            // while pciehp blinks the power indicator (bringing the slot up), a press would cancel it: refused, and why
            writeConfig(m, 0, port, exp + SLOT_CONTROL, 2, ABPE | PDCE | CCIE | HPIE | DLLSCE | PIC_BLINK);
            MachineException busy = assertThrows(MachineException.class, () -> m.unplug("rng2"));
            assertEquals("Device 'rng2': Hot-unplug failed: guest is busy (power indicator blinking)", busy.getMessage());
            writeConfig(m, 0, port, exp + SLOT_STATUS, 2, 0xFFFF);
            writeConfig(m, 0, port, exp + SLOT_CONTROL, 2, ABPE | PDCE | CCIE | HPIE | DLLSCE | PIC_ON);
            m.unplug("rng2");
            assertEquals(ABP, config(m, 0, port, exp + SLOT_STATUS, 2) & ABP);
        }
    }

    @Test
    void q35sRootBusAndAPortWithoutHotPlugTakeNone() throws Exception {
        try (Machine m = Machine.create(spin("-M", "q35", "-device", "pcie-root-port,id=rp1,chassis=1,hotplug=off"), QUIET,
                events::add)) {
            MachineException e = assertThrows(MachineException.class, () -> m.hotplug(rng("rng1", null)));
            assertTrue(e.getMessage().startsWith("Bus 'pcie.0' does not support hotplugging"), e.getMessage());
            e = assertThrows(MachineException.class, () -> m.hotplug(rng("rng1", "rp1")));
            assertEquals("Bus 'rp1' does not support hotplugging", e.getMessage());
        }
    }

    @Test
    void pcPlugsIntoAFreeSlotAndEjectsThroughAcpi() throws Exception {
        // a Linux kernel (loaded, never run): the pc machine describes ACPI hot-plug to an ACPI guest
        MachineConfig linux = config(DemoGuest.build().kernel().toString(), "-M", "pc");
        try (Machine m = Machine.create(linux, QUIET, events::add)) {
            m.io().write(0xAFE2, 2, 0xFFFF);                     // GPE0 enables
            m.hotplug(rng("rng1", null));
            int slot = find(m, 0x1044_1AF4);
            assertEquals(1L << slot, m.io().read(0xAE00, 4) & 1L << slot);     // PCIU: up
            assertEquals(2L, m.io().read(0xAFE0, 2) & 2);                      // GPE0 status bit 1
            m.io().write(0xAFE0, 2, 2);                                       // the guest's _E01 handled it
            assertEquals(0L, m.io().read(0xAFE0, 2) & 2);

            m.unplug("rng1");
            assertEquals(1L << slot, m.io().read(0xAE04, 4) & 1L << slot);     // PCID: down
            assertEquals(2L, m.io().read(0xAFE0, 2) & 2);
            assertEquals(0x1044_1AF4, config(m, 0, slot, 0, 4));
            m.io().write(0xAE08, 4, 1 << slot);                               // the slot's _EJ0
            assertEquals("rng1", deleted().id());
            assertEquals(0xFFFF, config(m, 0, slot, 0, 2));
        }
    }

    @Test
    void aDeviceOfTheCommandLineWithAnIdUnplugsToo() throws Exception {
        MachineConfig q35 = spin("-M", "q35", "-device", "pcie-root-port,id=rp1,chassis=1,slot=1",
            "-device", "virtio-rng-pci,bus=rp1,id=rng0", "-device", "virtio-rng-pci");
        try (Machine m = Machine.create(q35, QUIET, events::add)) {
            int port = find(m, 0x000C_1B36);
            writeConfig(m, 0, port, 0x18, 4, 0x0001_0100);
            int exp = capability(m, 0, port, 0x10);
            assertEquals(0x1044_1AF4, config(m, 1, 0, 0, 4));
            m.unplug("rng0");
            writeConfig(m, 0, port, exp + SLOT_CONTROL, 2, PCC | PIC_OFF);
            assertEquals("rng0", deleted().id());
            assertEquals(0xFFFF, config(m, 1, 0, 0, 2));
            assertTrue(m.devices().ids().stream().noneMatch(id -> id.startsWith("virtio-rng0")), m.devices().ids().toString());
            assertTrue(m.devices().ids().stream().anyMatch(id -> id.startsWith("virtio-rng1")), m.devices().ids().toString());
        }
    }

    /** netdev_add, then a NIC on it; netdev_del refuses while the NIC is there and closes it after. */
    @Test
    void aNicOnANetdevAddedWhileRunning(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path sock = dir.resolve("net.sock");
        try (Machine m = Machine.create(spin("-M", "q35", "-device", "pcie-root-port,id=rp1,chassis=1,slot=1"), QUIET, events::add)) {
            m.addNetdev(new MachineConfig.NetdevConfig.Stream("hostnet1", true, new MachineConfig.StreamAddress.Unix(sock)));
            MachineException dup = assertThrows(MachineException.class, () -> m.addNetdev(
                new MachineConfig.NetdevConfig.Stream("hostnet1", true, new MachineConfig.StreamAddress.Unix(dir.resolve("b")))));
            assertEquals("Duplicate ID 'hostnet1' for netdev", dup.getMessage());
            m.hotplug(new HotplugDevice("net1", "virtio-net-pci", new MachineConfig.VirtioDeviceConfig.VirtioNet("hostnet1",
                org.jvisor.config.MacAddress.parse("52:54:00:aa:bb:cc"), MachineConfig.Transport.PCI), "rp1", null, null));
            int port = find(m, 0x000C_1B36);
            writeConfig(m, 0, port, 0x18, 4, 0x0001_0100);
            int exp = capability(m, 0, port, 0x10);
            assertEquals(0x1041_1AF4, config(m, 1, 0, 0, 4));    // virtio-net, modern
            MachineException inUse = assertThrows(MachineException.class, () -> m.removeNetdev("hostnet1"));
            assertTrue(inUse.getMessage().contains("in use by a NIC"), inUse.getMessage());

            m.unplug("net1");
            writeConfig(m, 0, port, exp + SLOT_CONTROL, 2, PCC | PIC_OFF);
            assertEquals("net1", deleted().id());
            assertTrue(m.devices().ids().contains("netdev:hostnet1"), "the netdev outlives its NIC");
            m.removeNetdev("hostnet1");
            assertTrue(!m.devices().ids().contains("netdev:hostnet1"), m.devices().ids().toString());
            MachineException gone = assertThrows(MachineException.class, () -> m.removeNetdev("hostnet1"));
            assertEquals("Device 'hostnet1' not found", gone.getMessage());
        }
    }

    // ---- q35 through ACPI (QEMU 7.2's default, acpi-pci-hotplug-with-bridge-support=on) ---------

    /** ICH9's GPE0 block (PMBASE 0x600 + 0x20, 8 status bytes then 8 enable bytes) and the hot-plug registers at 0x0CC0. */
    private static final int GPE0_STS = 0x620, GPE0_EN = 0x628, PCIU = 0xCC0, PCID = 0xCC4, B0EJ = 0xCC8, BNUM = 0xCD0;

    /** A q35 with two hot-plug root ports; a Linux kernel (loaded, never run), so the machine has ACPI. */
    private static MachineConfig q35Linux(String... more) throws Exception {
        String[] base = {"-M", "q35", "-device", "pcie-root-port,id=rp1,chassis=1,slot=1",
            "-device", "pcie-root-port,id=rp2,chassis=2,slot=2"};
        String[] all = new String[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return config(DemoGuest.build().kernel().toString(), all);
    }

    /** The two root ports' slots on bus 0, numbered 1 (rp1) and 2 (rp2) as the guest's enumeration would. */
    private static int[] numberPorts(Machine m) {
        int[] ports = new int[2];
        int n = 0;
        for (int s = 0; s < 32 && n < 2; s++) {
            if (config(m, 0, s, 0, 4) == 0x000C_1B36) {
                ports[n] = s;
                writeConfig(m, 0, s, 0x18, 4, (n + 1) << 16 | (n + 1) << 8);   // secondary = subordinate = n + 1
                n++;
            }
        }
        assertEquals(2, n);
        return ports;
    }

    /** One port's PCNT as the DSDT runs it: BNUM = its BSEL, then PCIU (cleared by the read) and PCID. */
    private static long[] pcnt(Machine m, int bsel) {
        m.io().write(BNUM, 4, bsel);
        return new long[] {m.io().read(PCIU, 4), m.io().read(PCID, 4)};
    }

    /** A slot's _EJ0 through PCEJ (BSEL, _SUN = 0). */
    private static void ej0(Machine m, int bsel) {
        m.io().write(BNUM, 4, bsel);
        m.io().write(B0EJ, 4, 1);
    }

    @Test
    void q35PlugsBehindARootPortAndEjectsThroughAcpi() throws Exception {
        try (Machine m = Machine.create(q35Linux(), QUIET, events::add)) {
            int[] port = numberPorts(m);
            int exp = capability(m, 0, port[0], 0x10);
            // QEMU 7.2's BSELs: the port created last (rp2) is 0, rp1 is 1
            final int rp1 = 1, rp2 = 0;
            m.io().write(GPE0_EN, 1, 2);                       // the guest enables GPE 1
            writeConfig(m, 0, port[0], exp + SLOT_STATUS, 2, 0xFFFF);

            m.hotplug(rng("rng1", "rp1"));
            assertEquals(2L, m.io().read(GPE0_STS, 1) & 2, "GPE 1");
            m.io().write(GPE0_STS, 1, 2);                      // ACPICA clears it, then runs _E01
            assertEquals(0L, pcnt(m, rp2)[0], "nothing on rp2's bus");
            long[] one = pcnt(m, rp1);
            assertEquals(1L, one[0], "Device Check for rp1's S00");
            assertEquals(0L, one[1]);
            assertEquals(0L, pcnt(m, rp1)[0], "PCIU cleared by the read");
            assertEquals(0x1044_1AF4, config(m, 1, 0, 0, 4), "the slot was powered on for the card (QEMU's enable_power)");
            assertEquals(0, config(m, 0, port[0], exp + SLOT_CONTROL, 2) & PCC);
            assertEquals(0, config(m, 0, port[0], exp + SLOT_STATUS, 2) & (ABP | PDC), "no native events: pciehp is not the driver");

            m.unplug("rng1");
            assertEquals(2L, m.io().read(GPE0_STS, 1) & 2);
            assertEquals(0L, pcnt(m, rp2)[1]);
            assertEquals(1L, pcnt(m, rp1)[1], "Eject Request for rp1's S00");
            MachineException pending = assertThrows(MachineException.class, () -> m.unplug("rng1"));
            assertEquals("Device 'rng1' is already in the process of unplug", pending.getMessage());
            ej0(m, rp2);                                       // an eject on the other bus takes nothing
            assertEquals(0x1044_1AF4, config(m, 1, 0, 0, 4));
            ej0(m, rp1);                                       // S00._EJ0 of rp1
            assertEquals("rng1", deleted().id());
            assertEquals(0xFFFF, config(m, 1, 0, 0, 2));
            assertEquals(0L, pcnt(m, rp1)[1], "the down bit went with the eject");
            assertTrue(m.devices().ids().stream().noneMatch(id -> id.startsWith("virtio-rng0")), m.devices().ids().toString());

            // replug, on the same port and on the other
            m.hotplug(rng("rng2", "rp1"));
            assertEquals(1L, pcnt(m, rp1)[0]);
            assertEquals(0x1044_1AF4, config(m, 1, 0, 0, 4));
            m.hotplug(rng("rng3", "rp2"));
            assertEquals(1L, pcnt(m, rp2)[0]);
            assertEquals(0x1044_1AF4, config(m, 2, 0, 0, 4));
            MachineException taken = assertThrows(MachineException.class, () -> m.hotplug(rng("rng4", "rp2")));
            assertTrue(taken.getMessage().startsWith("PCI: slot 0 function 0 not available"), taken.getMessage());

            // a reset completes a pending unplug, as QEMU's acpi_pcihp_reset
            m.unplug("rng3");
            m.devices().reset();
            assertEquals("rng3", deleted().id());
            assertEquals(0L, pcnt(m, rp2)[1]);
            numberPorts(m);                                    // the reset cleared the ports' bus numbers
            assertEquals(0xFFFF, config(m, 2, 0, 0, 2));
            assertEquals(0x1044_1AF4, config(m, 1, 0, 0, 4), "rng2 stays");
        }
    }

    @Test
    void q35AcpiUnplugsACommandLineDeviceAndRefusesAPortWithoutHotplug() throws Exception {
        try (Machine m = Machine.create(q35Linux("-device", "virtio-rng-pci,bus=rp2,id=rng0",
                "-device", "pcie-root-port,id=rp3,chassis=3,slot=3,hotplug=off"), QUIET, events::add)) {
            numberPorts(m);
            assertEquals(0x1044_1AF4, config(m, 2, 0, 0, 4));
            m.unplug("rng0");
            // BSELs: rp3 (created last) has no hot-plug, so rp2 is 0, rp1 is 1
            assertEquals(1L, pcnt(m, 0)[1]);
            ej0(m, 0);
            assertEquals("rng0", deleted().id());
            assertEquals(0xFFFF, config(m, 2, 0, 0, 2));
            MachineException e = assertThrows(MachineException.class, () -> m.hotplug(rng("rng1", "rp3")));
            assertEquals("Bus 'rp3' does not support hotplugging", e.getMessage());
            e = assertThrows(MachineException.class, () -> m.hotplug(rng("rng1", null)));
            assertTrue(e.getMessage().startsWith("Bus 'pcie.0' does not support hotplugging"), e.getMessage());
        }
    }

    // ---- the guest's own eject, without device_del (QEMU 7.2's acpi_pcihp_eject_slot) ----------

    @Test
    void pcGuestEjectsWithoutDeviceDel() throws Exception {
        MachineConfig linux = config(DemoGuest.build().kernel().toString(), "-M", "pc", "-device", "virtio-rng-pci,id=rng0");
        try (Machine m = Machine.create(linux, QUIET, events::add)) {
            int cold = find(m, 0x1044_1AF4);
            m.hotplug(rng("rng1", null));
            int slot = -1;
            for (int s = 31; s >= 0 && slot < 0; s--) {
                slot = s != cold && config(m, 0, s, 0, 4) == 0x1044_1AF4 ? s : -1;
            }
            assertTrue(slot > 0, "rng1 on bus 0");
            int empty = 31;
            while (config(m, 0, empty, 0, 2) != 0xFFFF) {
                empty--;
            }
            int hostBridge = config(m, 0, 0, 0, 4);
            assertEquals(0x8086, hostBridge & 0xFFFF);
            m.io().write(0xAE10, 4, 0);                                       // BNUM: the root bus
            m.io().write(0xAE08, 4, 1);                                       // the host bridge's slot: not hot-pluggable
            m.io().write(0xAE08, 4, 1 << empty);                              // an empty slot
            assertEquals(hostBridge, config(m, 0, 0, 0, 4), "the host bridge stays");

            m.io().write(0xAE08, 4, 1 << slot);                               // echo 0 > .../slots/N/power
            assertEquals("rng1", deleted().id(), "the first DEVICE_DELETED: the earlier ejects took nothing");
            assertEquals(0xFFFF, config(m, 0, slot, 0, 2));
            assertEquals(0L, m.io().read(0xAE00, 4) & 1L << slot, "PCIU cleared");
            MachineException gone = assertThrows(MachineException.class, () -> m.unplug("rng1"));
            assertTrue(gone.getMessage().startsWith("Device 'rng1' is not a PCI device"), gone.getMessage());

            m.io().write(0xAE08, 4, 1 << cold);                               // the command line's rng0, by the guest too
            assertEquals("rng0", deleted().id());
            assertEquals(0xFFFF, config(m, 0, cold, 0, 2));
            assertTrue(m.devices().ids().stream().noneMatch(id -> id.startsWith("virtio-rng")), m.devices().ids().toString());

            m.hotplug(rng("rng2", null));                                     // the slots take a device again
            assertEquals(0x1044_1AF4, config(m, 0, find(m, 0x1044_1AF4), 0, 4));
        }
    }

    @Test
    void q35GuestEjectsARootPortsDeviceWithoutDeviceDel() throws Exception {
        try (Machine m = Machine.create(q35Linux("-device", "virtio-rng-pci,bus=rp2,id=rng0"), QUIET, events::add)) {
            numberPorts(m);
            final int rp1 = 1, rp2 = 0;                                       // QEMU 7.2's BSELs: the last port first
            m.hotplug(rng("rng1", "rp1"));
            assertEquals(0x1044_1AF4, config(m, 1, 0, 0, 4));
            assertEquals(1L, pcnt(m, rp1)[0] & 1);

            ej0(m, rp1);                                                      // S00._EJ0, nobody asked
            assertEquals("rng1", deleted().id());
            assertEquals(0xFFFF, config(m, 1, 0, 0, 2));
            assertEquals(0L, pcnt(m, rp1)[0], "the up bit went with the eject");
            assertEquals(0x1044_1AF4, config(m, 2, 0, 0, 4), "rp2's device stays");

            ej0(m, rp2);                                                      // the command line's rng0, with its id
            assertEquals("rng0", deleted().id());
            assertEquals(0xFFFF, config(m, 2, 0, 0, 2));
            assertTrue(m.devices().ids().stream().noneMatch(id -> id.startsWith("virtio-rng")), m.devices().ids().toString());
            m.hotplug(rng("rng2", "rp1"));                                    // the port takes a device again
            assertEquals(0x1044_1AF4, config(m, 1, 0, 0, 4));
        }
    }

    /** With -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off an ACPI guest gets today's native path. */
    @Test
    void q35WithAcpiHotplugOffPlugsNatively() throws Exception {
        try (Machine m = Machine.create(q35Linux("-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"), QUIET,
                events::add)) {
            int[] port = numberPorts(m);
            int exp = capability(m, 0, port[0], 0x10);
            assertEquals(0xFFFF_FFFFL, m.io().read(PCIU, 4), "no ACPI hot-plug registers");
            writeConfig(m, 0, port[0], exp + SLOT_CONTROL, 2, ABPE | PDCE | CCIE | HPIE | DLLSCE);
            writeConfig(m, 0, port[0], exp + SLOT_STATUS, 2, 0xFFFF);
            m.hotplug(rng("rng1", "rp1"));
            int status = config(m, 0, port[0], exp + SLOT_STATUS, 2);
            assertEquals(PDS | PDC | ABP, status & (PDS | PDC | ABP), Integer.toHexString(status));
            writeConfig(m, 0, port[0], exp + SLOT_STATUS, 2, 0xFFFF);
            m.unplug("rng1");
            assertEquals(ABP, config(m, 0, port[0], exp + SLOT_STATUS, 2) & ABP);
            int control = config(m, 0, port[0], exp + SLOT_CONTROL, 2);
            writeConfig(m, 0, port[0], exp + SLOT_CONTROL, 2, control | PCC | PIC_OFF);
            assertEquals("rng1", deleted().id());
        }
    }

    /**
     * The machine's state carries q35's hot-plug registers and ICH9's GPE0 block: restored into a
     * machine that has the plugged device on its command line, the guest finds the pending eject
     * request and its GPE; the request itself is not carried, but the guest's eject takes the
     * device out all the same, as QEMU 7.2's (an eject needs no request there).
     */
    @Test
    void q35AcpiHotplugStateRestoresIntoAMachineWithTheDevice() throws Exception {
        try (Machine a = Machine.create(q35Linux(), QUIET, e -> { });
             Machine b = Machine.create(q35Linux("-device", "virtio-rng-pci,bus=rp1,id=rng1"), QUIET, events::add)) {
            a.io().write(GPE0_EN, 1, 2);
            a.hotplug(rng("rng1", "rp1"));
            a.io().write(GPE0_STS, 1, 2);
            pcnt(a, 1);                                        // the guest saw the plug
            a.unplug("rng1");
            a.io().write(BNUM, 4, 1);
            b.devices().restore(a.devices().save());
            assertEquals(2L, b.io().read(GPE0_STS, 1) & 2, "the pending GPE");
            assertEquals(2L, b.io().read(GPE0_EN, 1) & 2);
            assertEquals(1L, b.io().read(BNUM, 4), "BNUM as the guest left it");
            assertEquals(1L, pcnt(b, 1)[1], "the eject request on rp1's bus");
            numberPorts(b);
            assertEquals(0x1044_1AF4, config(b, 1, 0, 0, 4));
            ej0(b, 1);
            assertEquals("rng1", deleted().id());
            assertEquals(0L, pcnt(b, 1)[1]);
            assertEquals(0xFFFF, config(b, 1, 0, 0, 2));
        }
    }
}
