package org.jvisor.api;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.config.MachineConfig;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.testing.DemoGuest;
import org.jvisor.testing.GuestTest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Linux machine holds its kernel and initrd only until it has loaded them, and reads them again
 * for a reboot (KernelLoader): a kernel file broken since the machine started fails the reset with
 * the file's own error, and the machine ends with it; nothing waits or boots half a kernel.
 */
@GuestTest
class KernelRereadTest {

    @Test
    void aResetReadsTheKernelAgainAndABrokenOneEndsTheMachineWithItsError(@TempDir Path dir) throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        Path kernel = dir.resolve("vmlinuz");
        Files.copy(guest.kernel(), kernel);
        MachineConfig config = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(256L << 20)
            .kernel(kernel).initrd(guest.initramfs()).append(DemoGuest.CONSOLE).build();
        try (VirtualMachine vm = VirtualMachine.create(config)) {   // loaded: the machine holds no copy now
            vm.reset();
            assertEquals(RunState.PRELAUNCH, vm.status(), "a reset reads the unchanged kernel again");

            Files.write(kernel, new byte[] {0x7f, 'E', 'L', 'X', 1, 2, 3});
            vm.reset();
            VmExit exit = vm.awaitExit();
            assertEquals(1, exit.status(), exit.toString());
            assertEquals(ShutdownCause.HOST_ERROR, exit.cause(), exit.toString());
            assertTrue(exit.detail().startsWith("reset failed: kernel " + kernel + " is neither an ELF64 executable nor "
                + "a Linux bzImage"), exit.detail());
        }
    }

    /** What -run-with does before the chroot: the images held from then on, resets load them and not the files. */
    @Test
    void heldImagesSurviveTheirFiles(@TempDir Path dir) throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        Path kernel = dir.resolve("vmlinuz");
        Path initrd = dir.resolve("initrd");
        Files.copy(guest.kernel(), kernel);
        Files.copy(guest.initramfs(), initrd);
        MachineConfig config = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(256L << 20)
            .kernel(kernel).initrd(initrd).append(DemoGuest.CONSOLE).build();
        long before = urandomDescriptors();
        try (VirtualMachine vm = VirtualMachine.create(config)) {
            vm.holdBootImages();
            assertEquals(before + 1, urandomDescriptors(), "the RNG seed's entropy held open with the images");
            Files.delete(kernel);
            Files.delete(initrd);
            vm.reset();
            vm.reset();
            assertEquals(RunState.PRELAUNCH, vm.status(), "both resets loaded the held images");
            assertTrue(vm.exit().isEmpty());
        }
        assertEquals(before, urandomDescriptors(), "the machine's end closes what it held");
    }

    /** This process's open descriptors on /dev/urandom. */
    private static long urandomDescriptors() throws java.io.IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().equals("/dev/urandom");
                } catch (java.io.IOException | UnsupportedOperationException e) {
                    return false; // closed while listed (the listing's own descriptor)
                }
            }).count();
        }
    }
}
