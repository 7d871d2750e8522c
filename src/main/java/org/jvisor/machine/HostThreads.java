package org.jvisor.machine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Host (Linux) identities of Java threads, as management tools see them. */
final class HostThreads {
    private static final Path THREAD_SELF = Path.of("/proc/thread-self");

    private HostThreads() {
    }

    /**
     * The calling thread's Linux thread id (gettid(2)), read from the /proc/thread-self link
     * ("PID/task/TID", proc(5)) so no native call is needed; 0 where /proc is not mounted.
     */
    static long currentThreadId() {
        try {
            String target = Files.readSymbolicLink(THREAD_SELF).toString();
            return Long.parseLong(target.substring(target.lastIndexOf('/') + 1));
        } catch (IOException | NumberFormatException | UnsupportedOperationException e) {
            return 0;
        }
    }
}
