package org.jvisor.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.config.MachineConfig;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * The host's media requests on a machine that has not started (QEMU 7.2's blockdev.c
 * semantics): the tray moves and DEVICE_TRAY_MOVED arrive before each request returns, a medium
 * comes out only of an open tray, a disk is not removable, a bad image changes nothing. A guest
 * test because the machine it builds loads the test guest (its vCPUs never run).
 */
@GuestTest
class RemovableMediaTest {
    private final PrintStream log = new PrintStream(new ByteArrayOutputStream(), true);

    @TempDir
    Path dir;

    private Path image(String name, int blocks) throws Exception {
        return Files.write(dir.resolve(name), new byte[blocks * 2048]);
    }

    private MachineConfig config(Path disk, Path cd) {
        return MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(64L << 20)
            .kernel(JvisorProcess.guest("hello.elf")).debugExit(new MachineConfig.DebugExitConfig(0xf4, 4))
            .drive(new MachineConfig.DriveConfig("hd0", disk, "raw", false, "writeback", false, false))
            .drive(new MachineConfig.DriveConfig("cd0", null, "raw", true, "writeback", false, false))
            .drive(new MachineConfig.DriveConfig("cd1", cd, "raw", true, "writeback", false, false))
            .ideDrive(new MachineConfig.IdeDriveConfig("hd0", 0, MachineConfig.IdeDriveConfig.Media.DISK))
            .ideDrive(new MachineConfig.IdeDriveConfig("cd0", 1, MachineConfig.IdeDriveConfig.Media.CDROM))
            .ideDrive(new MachineConfig.IdeDriveConfig("cd1", 2, MachineConfig.IdeDriveConfig.Media.CDROM)).build();
    }

    private static BlockDeviceInfo info(VirtualMachine vm, String id) {
        return vm.blockDevices().stream().filter(b -> b.id().equals(id)).findFirst().orElseThrow();
    }

    private static List<String> moves(RecordedEvents events) {
        return events.list().stream().filter(e -> e instanceof VmEvent.DeviceTrayMoved)
            .map(e -> ((VmEvent.DeviceTrayMoved) e).drive() + (((VmEvent.DeviceTrayMoved) e).trayOpen() ? " open" : " closed"))
            .toList();
    }

    private static MediaException.Reason refused(MediaRequest r) {
        return assertThrows(MediaException.class, r::run).reason();
    }

    private interface MediaRequest {
        void run() throws MediaException;
    }

    @Test
    void theTrayMovesAndTheMediumChangesAsOnQemu() throws Exception {
        Path a = image("a.iso", 16);
        Path b = image("b.iso", 32);
        try (VirtualMachine vm = VirtualMachine.create(config(image("disk.img", 8), a), log)) {
            RecordedEvents events = new RecordedEvents();
            vm.addListener(events);
            BlockDeviceInfo empty = info(vm, "cd0");
            assertTrue(empty.removable());
            assertFalse(empty.inserted(), "an empty drive has no medium");
            assertFalse(info(vm, "hd0").removable());

            vm.changeMedium("cd0", b, "raw", Optional.empty());
            assertEquals(List.of("cd0 open", "cd0 closed"), moves(events), "delivered before the request returned");
            assertEquals(b, info(vm, "cd0").file());
            assertEquals(32 * 2048, info(vm, "cd0").size());
            assertTrue(info(vm, "cd0").readOnly(), "read-only-mode retain: a CD-ROM drive's");

            assertEquals(MediaException.Reason.TRAY_CLOSED, refused(() -> vm.removeMedium("cd1")));
            vm.openTray("cd1", false);
            vm.openTray("cd1", false);
            assertEquals(List.of("cd0 open", "cd0 closed", "cd1 open"), moves(events), "an open tray does not move again");
            assertTrue(info(vm, "cd1").inserted(), "the medium stays in the open tray");
            vm.removeMedium("cd1");
            assertFalse(info(vm, "cd1").inserted());
            assertTrue(info(vm, "cd1").trayOpen());
            vm.closeTray("cd1");
            vm.closeTray("cd1");
            assertEquals("cd1 closed", moves(events).getLast());

            vm.ejectMedium("cd0", false);
            assertEquals("cd0 open", moves(events).getLast());
            assertFalse(info(vm, "cd0").inserted());

            int before = moves(events).size();
            MediaException missing = assertThrows(MediaException.class,
                () -> vm.changeMedium("cd1", dir.resolve("missing.iso"), null, Optional.empty()));
            assertEquals(MediaException.Reason.CANNOT_OPEN, missing.reason());
            assertEquals(before, moves(events).size(), "nothing moved");
            assertEquals(MediaException.Reason.NOT_REMOVABLE, refused(() -> vm.ejectMedium("hd0", true)));
            assertEquals(MediaException.Reason.NOT_REMOVABLE, refused(() -> vm.changeMedium("hd0", a, "raw", Optional.empty())));
            assertEquals(MediaException.Reason.NO_SUCH_DRIVE, refused(() -> vm.openTray("nope", false)));

            vm.changeMedium("cd1", a, null, Optional.of(false));
            assertFalse(info(vm, "cd1").readOnly(), "read-only-mode read-write");
            assertEquals("raw", info(vm, "cd1").format(), "probed");
        }
    }
}
