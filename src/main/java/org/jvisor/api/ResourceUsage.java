package org.jvisor.api;

import java.time.Duration;

/**
 * What one virtual machine costs its host now, for accounting when many run in one process.
 * CPU time counts the machine's own threads that are alive (vCPUs, timers, device I/O, its tcg
 * translator); process-wide work is in no machine's account: HotSpot's compiler threads (which
 * compile the translated code that machines share), the garbage collector, and threads that have
 * ended. Memory counts guest RAM; the machine's share of the heap and of the code cache is not
 * measured.
 *
 * @param vcpuTime              CPU time of the vCPU threads (guest code, and device emulation on exits)
 * @param otherThreadsTime      CPU time of the machine's other threads
 * @param guestRamBytes         the guest RAM configured (-m)
 * @param guestRamResidentBytes of it, the bytes in host memory now (pages touched); 0 once the machine ended
 */
public record ResourceUsage(Duration vcpuTime, Duration otherThreadsTime, long guestRamBytes, long guestRamResidentBytes) {

    /** The machine's CPU time, all its threads. */
    public Duration cpuTime() {
        return vcpuTime.plus(otherThreadsTime);
    }
}
