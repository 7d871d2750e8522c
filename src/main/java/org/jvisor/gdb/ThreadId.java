package org.jvisor.gdb;

/**
 * A thread-id of the protocol (GDB manual, E.2 "Packets", thread-id syntax): gdb's thread N is
 * vCPU N-1, as QEMU numbers them; -1 is every thread and 0 any one. With the multiprocess
 * extension it is {@code pPID.TID}; jvisor is process 1, as QEMU presents one process.
 *
 * @param tid 1-based thread, or {@link #ALL} / {@link #ANY}
 */
record ThreadId(int tid) {
    static final int ALL = -1, ANY = 0;

    /**
     * Parses {@code TID}, {@code pPID} or {@code pPID.TID} (hex, or -1).
     *
     * @throws IllegalArgumentException if it is not one
     */
    static ThreadId parse(String s) {
        if (s.startsWith("p")) {
            int dot = s.indexOf('.');
            number(dot < 0 ? s.substring(1) : s.substring(1, dot));   // the process: checked, one only
            return new ThreadId(dot < 0 ? ALL : number(s.substring(dot + 1)));
        }
        return new ThreadId(number(s));
    }

    private static int number(String s) {
        if (s.equals("-1")) {
            return ALL;
        }
        if (s.isEmpty() || s.length() > 8) {
            throw new IllegalArgumentException("not a thread id: '" + s + "'");
        }
        return Integer.parseUnsignedInt(s, 16);
    }

    /** Whether this names vCPU {@code index}. */
    boolean matches(int index) {
        return tid == ALL || tid == ANY || tid == index + 1;
    }

    /** How a reply names vCPU {@code index}: "01", or "p01.01" with the multiprocess extension (as QEMU). */
    static String format(int index, boolean multiprocess) {
        String t = String.format("%02x", index + 1);
        return multiprocess ? "p01." + t : t;
    }
}
