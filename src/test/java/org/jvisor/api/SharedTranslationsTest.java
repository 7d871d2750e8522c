package org.jvisor.api;

import org.jvisor.testing.DemoGuest;

import org.jvisor.testing.GuestTest;

import java.nio.file.Files;
import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two demo guests in one process at once, sharing one {@link TranslationCache} (issue 13): the
 * second reuses the classes the first generated for the same kernel code, each VM runs on its
 * own, and the end of one does not disturb the other.
 */
@GuestTest
class SharedTranslationsTest {

    private static MachineConfig config(GuestBuilder.Guest guest, ConsoleCapture console) {
        return MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(256L << 20)
            .kernel(guest.kernel()).initrd(guest.initramfs()).append(DemoGuest.CONSOLE)
            .serial(new MachineConfig.SerialConfig.Streams(console, null)).build();
    }

    @Test
    void aSecondGuestReusesTheFirstGuestsTranslationsAndOutlivesIt() throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        TranslationCache cache = new TranslationCache();
        ConsoleCapture firstConsole = new ConsoleCapture();
        ConsoleCapture secondConsole = new ConsoleCapture();
        try (VirtualMachine first = VirtualMachine.create(config(guest, firstConsole), System.err, cache);
             VirtualMachine second = VirtualMachine.create(config(guest, secondConsole), System.err, cache)) {
            assertTrue(cache.sharedImageBytes() >= Files.size(guest.kernel()),
                "the second machine holds the first one's kernel, not a copy: " + cache.sharedImageBytes());
            long t0 = System.nanoTime();
            first.start();
            firstConsole.await(InitScript.READY_LINE);
            long t1 = System.nanoTime();
            long generated = cache.generatedClasses();
            long reusedByFirst = cache.reusedUnits(); // code dropped by a write and translated again unchanged
            assertTrue(generated > 0, "the first boot translated hot code");

            second.start();
            secondConsole.await(InitScript.READY_LINE);
            long t2 = System.nanoTime();
            long reusedBySecond = cache.reusedUnits() - reusedByFirst;
            System.out.printf("shared translations: first boot %.2f s (%d classes, %d reused), second %.2f s (%d reused, %d new classes)%n",
                (t1 - t0) / 1e9, generated, reusedByFirst, (t2 - t1) / 1e9, reusedBySecond, cache.generatedClasses() - generated);
            assertTrue(reusedBySecond > generated / 2,
                "the second boot reused " + reusedBySecond + " units of the first boot's " + generated + " classes");

            // each VM's account: its own threads and RAM; a paused VM's vCPU time stands still
            first.pause();
            ResourceUsage paused = first.usage();
            assertTrue(paused.vcpuTime().toMillis() > 100, "the first guest's boot ran on its vCPU: " + paused);
            assertTrue(paused.guestRamResidentBytes() > (8L << 20) && paused.guestRamResidentBytes() <= paused.guestRamBytes(),
                "the booted guest touched some of its RAM: " + paused);
            assertEquals(256L << 20, paused.guestRamBytes());
            Thread.sleep(200);
            // (a paused vCPU thread only wakes to see it is still paused when an interrupt arrives)
            assertTrue(first.usage().vcpuTime().minus(paused.vcpuTime()).toMillis() < 5, "a paused VM's vCPUs ran: " + first.usage());
            assertTrue(second.usage().vcpuTime().toMillis() > 100, "the second guest has an account of its own");
            first.resume();

            first.quit();                                    // one VM ends; the other goes on
            assertEquals(ShutdownCause.HOST_QMP_QUIT, first.awaitExit().cause());
            assertEquals(RunState.RUNNING, second.status());
            second.powerDown();
            secondConsole.await(InitScript.POWER_BUTTON_LINE);
            secondConsole.await("reboot: Power down");
            assertEquals(ShutdownCause.GUEST_SHUTDOWN, second.awaitExit().cause());
        }
    }
}
