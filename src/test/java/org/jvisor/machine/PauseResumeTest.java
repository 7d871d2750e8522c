package org.jvisor.machine;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.config.MachineConfig;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.jvisor.machine.CountingGuest.COUNTER;
import static org.jvisor.machine.CountingGuest.awaitCount;

/**
 * The machine's run control, under the lifecycle: pause and resume from another thread while a
 * guest spins without exits (a counter at 0x300000), so a pause must kick the vCPU out of the
 * engine. A paused vCPU does not advance, a resumed one does, close() ends the vCPU threads.
 */
@GuestTest
class PauseResumeTest {

    @ParameterizedTest
    @ValueSource(strings = {"kvm", "tcg"})
    void pauseStopsTheGuestAndResumeContinuesIt(String engine) throws Exception {
        if (engine.equals("kvm")) {
            KvmAvailability.assumeKvm();
        }
        MachineConfig config = MachineConfig.builder()
            .accel(engine.equals("kvm") ? MachineConfig.Accel.KVM : MachineConfig.Accel.TCG)
            .memory(64L << 20).kernel(JvisorProcess.guest("spin.elf")).build();
        List<MachineEvent> events = new CopyOnWriteArrayList<>();
        try (Machine m = Machine.create(config, System.err, events::add)) {
            assertEquals(0, m.ram().readU64(COUNTER), "no vCPU runs before resume()");
            m.resume();
            awaitCount(m, 1001);
            m.pause();
            long paused = m.ram().readU64(COUNTER);
            for (int i = 0; i < 1_000_000; i++) {
                Thread.onSpinWait();
            }
            Thread.yield();
            assertEquals(paused, m.ram().readU64(COUNTER), "a paused vCPU runs no guest code");
            m.resume();
            awaitCount(m, paused + 1001);
            m.pause();
            m.resume();
        }
        assertEquals(List.of(), events, "the guest asked for nothing");
    }

}
