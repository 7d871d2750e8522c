package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.jvisor.machine.CountingGuest.awaitCount;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.Smaps;

/**
 * -machine mem-merge (QEMU's, default on): a machine's RAM is open to the host's KSM unless the
 * configuration says off, and the guest runs the same either way.
 */
@GuestTest
class MachineRamMergeTest {
    private static MachineConfig.Builder spin() {
        return MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(32L << 20)
            .machineType(MachineConfig.MachineType.PC).kernel(JvisorProcess.guest("spin.elf"));
    }

    @Test
    void ramIsMergeableByDefaultAndNotWithMemMergeOff() throws Exception {
        assumeTrue(Smaps.hostHasKsm(), "the host kernel has no KSM (CONFIG_KSM)");
        try (Machine on = Machine.create(spin().build(), System.err, e -> { });
             Machine off = Machine.create(spin().memMerge(false).build(), System.err, e -> { })) {
            Smaps merged = Smaps.at(on.ram().segment().address());
            assertTrue(merged.mergeable(), merged.toString());
            assertEquals("rw-p", merged.perms());
            Smaps plain = Smaps.at(off.ram().segment().address());
            assertFalse(plain.mergeable(), plain.toString());
            on.resume();
            off.resume();
            awaitCount(on, 1000);
            awaitCount(off, 1000);
        }
    }
}
