package org.jvisor.api;

import org.jvisor.testing.DemoGuest;

import org.jvisor.testing.GuestTest;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The demo guest (Debian's kernel, busybox, acpid) through the API, as libvirt drives QEMU:
 * system_powerdown presses the ACPI power button, the guest shuts itself down (its acpid action,
 * then the kernel's power-off) and the machine reports POWERDOWN, then SHUTDOWN guest-shutdown;
 * -no-shutdown keeps it (STOP, status shutdown), a reset takes it to prelaunch and cont boots it
 * again (libvirt's "fake reboot"); quit ends it.
 */
@GuestTest
class PowerButtonTest {

    @Test
    void powerDownShutsTheGuestDownAndNoShutdownKeepsTheMachineForAReboot() throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        ConsoleCapture console = new ConsoleCapture();
        RecordedEvents events = new RecordedEvents();
        MachineConfig config = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(512L << 20)
            .kernel(guest.kernel()).initrd(guest.initramfs()).append(DemoGuest.CONSOLE)
            .serial(new MachineConfig.SerialConfig.Streams(console, null)).noShutdown(true).build();
        try (VirtualMachine vm = VirtualMachine.create(config)) {
            vm.addListener(events);
            vm.start();
            console.await(InitScript.READY_LINE);
            vm.powerDown();
            console.await(InitScript.POWER_BUTTON_LINE);   // the guest's acpid ran the button's action
            console.await("reboot: Power down");            // and the guest powered itself off
            events.await(VmEvent.Stop.class, 1);
            assertEquals(RunState.SHUTDOWN, vm.status());
            assertEquals(List.of("RESUME", "POWERDOWN", "SHUTDOWN guest-shutdown guest", "STOP"), events.names());
            assertEquals("Resetting the Virtual Machine is required",
                assertThrows(IllegalStateException.class, vm::resume).getMessage());

            vm.reset();
            assertEquals(RunState.PRELAUNCH, vm.status());
            vm.resume();
            console.await("Linux version");                 // the second boot
            vm.quit();
            VmExit exit = vm.awaitExit();
            assertEquals(0, exit.status());
            assertEquals(ShutdownCause.HOST_QMP_QUIT, exit.cause());
        }
        assertEquals(List.of("RESUME", "POWERDOWN", "SHUTDOWN guest-shutdown guest", "STOP",
            "RESET host-qmp-system-reset", "RESUME", "SHUTDOWN host-qmp-quit"), events.names());
    }
}
