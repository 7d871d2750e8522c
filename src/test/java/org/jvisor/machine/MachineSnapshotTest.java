package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvisor.machine.CountingGuest.COUNTER;
import static org.jvisor.machine.CountingGuest.awaitCount;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.jvisor.config.MachineConfig;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * A whole machine through a snapshot file, on pc and on microvm with every virtio device kind that
 * needs no host network (blk on an image, rng, serial with a console port), on pc also an IDE disk
 * and CD-ROM: a guest that counts in
 * RAM runs, is paused and saved, and a second machine restored from the file holds the same RAM,
 * every device's state (the clock-driven ones, whose records hold time since the save, by kind)
 * and goes on counting from the saved value. A machine of another configuration refuses the file.
 */
@GuestTest
class MachineSnapshotTest {
    /** Devices whose records hold guest time relative to the save: compared by kind only. */
    private static final Set<String> CLOCKED = Set.of("rtc", "pit", "lapic0", "acpi-pm");

    @TempDir
    Path dir;

    private MachineConfig config(MachineConfig.MachineType type, long memory) throws Exception {
        Path image = dir.resolve("disk.img");
        if (!Files.exists(image)) {
            Files.write(image, new byte[1 << 20]);
        }
        MachineConfig.Transport t = type.hasPci() ? MachineConfig.Transport.PCI : MachineConfig.Transport.MMIO;
        MachineConfig.Builder b = MachineConfig.builder();
        if (type == MachineConfig.MachineType.Q35) {   // with the VT-d unit, the disk behind it
            b.iommu(new MachineConfig.IommuConfig(null, false, false, 39, false))
                .pciDma(0, new MachineConfig.PciDmaConfig(true, false));
        }
        if (type == MachineConfig.MachineType.PC || type == MachineConfig.MachineType.Q35) {
            // the PIIX3 IDE function (pc) or ICH9 AHCI (q35) with a disk and a CD-ROM: their state goes
            // through the snapshot too
            Path hd = dir.resolve("hd.img");
            Path cd = dir.resolve("cd.iso");
            if (!Files.exists(hd)) {
                Files.write(hd, new byte[1 << 20]);
                Files.write(cd, new byte[1 << 20]);
            }
            b.drive(new MachineConfig.DriveConfig("hd0", hd, false, "writeback", false))
                .ideDrive(new MachineConfig.IdeDriveConfig("hd0", 0, MachineConfig.IdeDriveConfig.Media.DISK))
                .drive(new MachineConfig.DriveConfig("cd0", cd, true, "writeback", false))
                .ideDrive(new MachineConfig.IdeDriveConfig("cd0", 2, MachineConfig.IdeDriveConfig.Media.CDROM));
        }
        return b.accel(MachineConfig.Accel.TCG).memory(memory).machineType(type)
            .kernel(JvisorProcess.guest("spin.elf"))
            .drive(new MachineConfig.DriveConfig("d0", image, false, "writeback", false))
            // on microvm the disk is served by a polling -object iothread: drained and closed with the machine
            .ioThread(new MachineConfig.IoThreadConfig("io0", MachineConfig.IoThreadConfig.DEFAULT_POLL_MAX_NS, 0, 0))
            .device(new MachineConfig.VirtioDeviceConfig.VirtioBlk("d0", t,
                type == MachineConfig.MachineType.MICROVM ? "io0" : null))
            .device(new MachineConfig.VirtioDeviceConfig.VirtioRng(t))
            .device(new MachineConfig.VirtioDeviceConfig.VirtioBalloon(t, false))
            .chardev(new MachineConfig.ChardevConfig.Null("c0"))
            .device(new MachineConfig.VirtioDeviceConfig.VirtioSerial(4,
                List.of(new MachineConfig.VirtioSerialPortConfig(0, true, "c0", null)), t))
            .build();
    }

    @ParameterizedTest
    @EnumSource(value = MachineConfig.MachineType.class, names = {"PC", "Q35", "MICROVM"})   // none has no guest to run
    void aRestoredMachineHoldsTheSameStateAndRunsOn(MachineConfig.MachineType type) throws Exception {
        Path file = dir.resolve("m.jvsnap");
        List<MachineEvent> events = new CopyOnWriteArrayList<>();
        List<DeviceRegistry.Saved> before;
        long counter;
        byte[] ramBefore;
        try (Machine m = Machine.create(config(type, 64L << 20), System.err, events::add)) {
            m.resume();
            awaitCount(m, 1000);
            m.pause();
            counter = m.ram().readU64(COUNTER);
            Machine.SnapshotSaved saved = m.saveSnapshot(new MigrationEndpoint.File(file), "paused");
            assertTrue(saved.ramBytesWritten() > 0 && saved.ramBytesWritten() < (64L << 20) / 4, saved.toString());
            before = m.devices().save();
            ramBefore = new byte[1 << 22];
            m.ram().read(0, ramBefore, 0, ramBefore.length);
        }
        try (Machine m = Machine.create(config(type, 64L << 20), System.err, events::add, new MigrationEndpoint.File(file))) {
            assertEquals("paused", m.incomingRunState());
            byte[] ramAfter = new byte[1 << 22];
            m.ram().read(0, ramAfter, 0, ramAfter.length);
            assertTrue(java.util.Arrays.equals(ramBefore, ramAfter), "RAM");
            List<DeviceRegistry.Saved> after = m.devices().save();
            assertEquals(before.stream().map(DeviceRegistry.Saved::id).toList(),
                after.stream().map(DeviceRegistry.Saved::id).toList());
            for (int i = 0; i < before.size(); i++) {
                DeviceState b = before.get(i).state();
                DeviceState a = after.get(i).state();
                if (CLOCKED.contains(before.get(i).id())) {
                    assertEquals(b.getClass(), a.getClass(), before.get(i).id());
                } else {
                    assertEquals(b, a, before.get(i).id());
                }
            }
            assertEquals(counter, m.ram().readU64(COUNTER), "nothing ran before resume");
            m.resume();
            awaitCount(m, counter + 1001);
            m.pause();
        }
        assertEquals(List.of(), events, "the guest asked for nothing");

        MachineException e = assertThrows(MachineException.class,
            () -> Machine.create(config(type, 32L << 20), System.err, events::add, new MigrationEndpoint.File(file)).close());
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().startsWith("-incoming: " + file + " was saved from a machine with 64 MiB of RAM;"
            + " this one has 32 MiB (-m must match)"), e.getMessage());
    }

    /** Snapshots work the same with RAM on a memfd (-object memory-backend-memfd): saved from it, restored into one. */
    @org.junit.jupiter.api.Test
    void aMachineOnMemfdRamSavesAndRestores() throws Exception {
        Path file = dir.resolve("memfd.jvsnap");
        MachineConfig.MemoryBackendConfig memfd = new MachineConfig.MemoryBackendConfig.Memfd("mem", 64L << 20, true, true);
        MachineConfig base = config(MachineConfig.MachineType.PC, 64L << 20);
        MachineConfig onMemfd = base.withMemoryBackend(memfd);
        long counter;
        try (Machine m = Machine.create(onMemfd, System.err, e -> { })) {
            assertTrue(m.ram().shareable());
            m.resume();
            awaitCount(m, 1000);
            m.pause();
            counter = m.ram().readU64(COUNTER);
            m.saveSnapshot(new MigrationEndpoint.File(file), "paused");
        }
        try (Machine m = Machine.create(onMemfd, System.err, e -> { }, new MigrationEndpoint.File(file))) {
            assertTrue(m.ram().shareable());
            assertEquals(counter, m.ram().readU64(COUNTER));
            m.resume();
            awaitCount(m, counter + 1001);
            m.pause();
        }
    }

    /** A vhost-user device's rings live in its backend: a snapshot is refused by name, the machine runs on. */
    @org.junit.jupiter.api.Test
    void aMachineWithAVhostUserDeviceRefusesASnapshot() throws Exception {
        Path sock = dir.resolve("vu.sock");
        org.jvisor.sys.Fd listener = org.jvisor.sys.Sockets.listen(sock.toString(), 1);
        List<org.jvisor.testing.ScriptedVhostUserBackend> backends = new CopyOnWriteArrayList<>();
        Thread acceptor = Thread.ofPlatform().daemon().start(() -> {
            try {
                backends.add(new org.jvisor.testing.ScriptedVhostUserBackend(org.jvisor.sys.Sockets.accept(listener),
                    org.jvisor.testing.ScriptedVhostUserBackend::wellBehaved));
            } catch (Exception e) {
                // listener closed
            }
        });
        MachineConfig c = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(64L << 20)
            .kernel(JvisorProcess.guest("spin.elf"))
            .memoryBackend(new MachineConfig.MemoryBackendConfig.Memfd("mem", 64L << 20, true, true))
            .chardev(new MachineConfig.ChardevConfig.SocketClient("vu", sock, 0))
            .device(new MachineConfig.VirtioDeviceConfig.VhostUserBlk("vu", 1, 128, true, MachineConfig.Transport.PCI))
            .build();
        try (Machine m = Machine.create(c, System.err, e -> { })) {
            m.resume();
            m.pause();
            MachineException e = assertThrows(MachineException.class, () -> m.saveSnapshot(new MigrationEndpoint.File(dir.resolve("no.jvsnap")), "paused"));
            assertTrue(e.getMessage().contains("vhost-user-blk0 (vhost-user) cannot be saved"), e.getMessage());
            m.resume();
            m.pause();
        } finally {
            listener.close();
            acceptor.join(10_000);
            for (org.jvisor.testing.ScriptedVhostUserBackend b : backends) {
                b.close();
            }
        }
    }
}
