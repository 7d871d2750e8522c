package org.jvisor.machine;

import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Pause, resume and stop from another thread while a guest spins without exits (a counter at
 * 0x300000): a paused vCPU does not advance, a resumed one does, a stop ends run().
 */
@GuestTest
class PauseResumeTest {

    @ParameterizedTest
    @ValueSource(strings = {"kvm", "tcg"})
    void pauseStopsTheGuestAndResumeContinuesIt(String engine) throws Exception {
        if (engine.equals("kvm")) {
            KvmAvailability.assumeKvm();
        }
        var config = new MachineConfig(engine.equals("kvm") ? MachineConfig.Accel.KVM : MachineConfig.Accel.TCG,
            64L << 20, 1, JvisorProcess.guest("spin.elf"), null, null, true, new MachineConfig.SerialConfig.None(), true,
            List.of(), List.of(), List.of(), Set.of(), Set.of(), MachineConfig.MachineType.PC, List.of(), List.of());
        try (Machine m = Machine.create(config, System.err)) {
            AtomicInteger status = new AtomicInteger(-1);
            Thread runner = Thread.ofPlatform().start(() -> {
                try {
                    status.set(m.run());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            waitForProgress(m, 0);
            m.pause();
            long paused = m.ram().readU64(0x300000);
            for (int i = 0; i < 1_000_000; i++) {
                Thread.onSpinWait();
            }
            Thread.yield();
            assertEquals(paused, m.ram().readU64(0x300000), "a paused vCPU runs no guest code");
            m.resume();
            waitForProgress(m, paused);
            m.pause();
            m.resume();
            m.requestExit(7, "test");
            runner.join();
            assertEquals(7, status.get());
        }
    }

    /** Waits (without a time limit: the build's watchdog covers hangs) until the counter moves past {@code from}. */
    private static void waitForProgress(Machine m, long from) throws InterruptedException {
        while (m.ram().readU64(0x300000) <= from + 1000) {
            Thread.sleep(1);
        }
    }
}
