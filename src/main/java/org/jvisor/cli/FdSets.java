package org.jvisor.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.jvisor.sys.Fd;
import org.jvisor.sys.SysException;

/**
 * QEMU's -add-fd set=N,fd=M[,opaque=TEXT]: descriptors the starting process (libvirt) opened and
 * passed, grouped in numbered sets; a file option naming /dev/fdset/N uses a descriptor of set N
 * instead of opening a path (QEMU's monitor/fds.c, qemu_open). jvisor opens it again through
 * /proc/self/fd/M, which gives the same file (a regular file, a pipe, a pty).
 */
final class FdSets {
    private static final String PREFIX = "/dev/fdset/";

    private final Map<Integer, List<Integer>> sets = new LinkedHashMap<>();

    /** Whether no -add-fd was given. */
    boolean isEmpty() {
        return sets.isEmpty();
    }

    /** {@code -add-fd set=N,fd=M[,opaque=TEXT]}: the descriptor must be open (inherited). */
    void add(String text) throws UsageException {
        OptionList o = OptionList.parse("-add-fd", text, false);
        o.allowOnly(Set.of("set", "fd", "opaque"), "");
        int fd = number(o, "fd");
        int set = number(o, "set");
        if (fd <= 2) {
            throw new UsageException("-add-fd: fd=" + fd + " is stdin, stdout or stderr, which cannot be added to a set");
        }
        if (sets.values().stream().anyMatch(l -> l.contains(fd))) {
            throw new UsageException("-add-fd: fd=" + fd + " is already in a set");
        }
        try {
            Fd.inherit(fd, "-add-fd set=" + set);   // kept open for good, as QEMU keeps its fd sets
        } catch (SysException e) {
            throw new UsageException("-add-fd: fd=" + fd + " is not an open descriptor of jvisor (" + e.getMessage()
                + "); the process that starts jvisor must pass it open");
        }
        sets.computeIfAbsent(set, k -> new ArrayList<>()).add(fd);
    }

    /** {@code path}, or for /dev/fdset/N a path that opens the set's descriptor. */
    String resolve(String option, String path) throws UsageException {
        if (path == null || !path.startsWith(PREFIX)) {
            return path;
        }
        int set;
        try {
            set = Integer.parseInt(path.substring(PREFIX.length()));
        } catch (NumberFormatException e) {
            throw new UsageException(option + ": '" + path + "' is not an fd set (expected /dev/fdset/N)");
        }
        List<Integer> fds = sets.get(set);
        if (fds == null) {
            throw new UsageException(option + ": " + path + ": there is no fd set " + set + " (give -add-fd set=" + set
                + ",fd=M before it)");
        }
        return "/proc/self/fd/" + fds.getFirst();
    }

    private static int number(OptionList o, String key) throws UsageException {
        String v = o.get(key);
        if (v == null) {
            throw new UsageException("-add-fd: " + key + "=N is required");
        }
        try {
            int n = Integer.parseInt(v);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("-add-fd: " + key + "='" + v + "' is not a number");
        }
    }
}
