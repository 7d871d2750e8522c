package org.jvisor.api;

/**
 * An -object iothread, as QMP's query-iothreads describes it.
 *
 * @param id           the object's id
 * @param hostThreadId the Linux thread id of its thread (thread-id), 0 if not known yet
 * @param pollMaxNs    poll-max-ns: the longest it polls the rings before blocking (0: never)
 * @param pollGrow     poll-grow (0: QEMU's default, doubling)
 * @param pollShrink   poll-shrink (0: QEMU's default, back to 0)
 */
public record IoThreadInfo(String id, long hostThreadId, long pollMaxNs, long pollGrow, long pollShrink) {
}
