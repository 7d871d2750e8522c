package org.jvisor.api;

/**
 * A virtual CPU, as QMP's query-cpus-fast describes it.
 *
 * @param index        the vCPU's index (cpu-index); 0 is the boot processor
 * @param hostThreadId the Linux thread id of the host thread that runs it (thread-id), for
 *                     pinning and accounting; 0 if it is not known
 * @param engine       the CPU engine: "kvm" or "tcg"
 */
public record VcpuInfo(int index, long hostThreadId, String engine) {
}
