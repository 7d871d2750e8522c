package org.jvisor.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the host has, read from /proc/meminfo. */
final class HostMemory {
    private HostMemory() {
    }

    /** MemTotal in bytes, or -1 when it cannot be read. */
    static long totalBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    String kb = line.substring(9).trim().split("\\s+")[0];
                    return Long.parseLong(kb) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
