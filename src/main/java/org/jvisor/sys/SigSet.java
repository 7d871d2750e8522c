package org.jvisor.sys;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.StringJoiner;

/**
 * A signal set in native memory, glibc's sigset_t (1024 bits, of which Linux uses the first 64:
 * signal n is bit n - 1, as in the kernel's sigset_t). Mutable, for the few sets a thread keeps
 * and passes to {@link Signals} again and again without allocating.
 */
public final class SigSet {
    /** sizeof(sigset_t) in glibc. */
    static final long BYTES = 128;
    /** Linux's _NSIG: signals are 1..64. */
    public static final int MAX_SIGNAL = 64;

    final MemorySegment segment;

    private SigSet() {
        segment = Arena.ofAuto().allocate(BYTES, 8);
    }

    public static SigSet empty() {
        return new SigSet();
    }

    public static SigSet of(int... signals) {
        SigSet s = new SigSet();
        for (int sig : signals) {
            s.add(sig);
        }
        return s;
    }

    public SigSet add(int signal) {
        segment.set(JAVA_LONG, 0, kernelMask() | bit(signal));
        return this;
    }

    public SigSet remove(int signal) {
        segment.set(JAVA_LONG, 0, kernelMask() & ~bit(signal));
        return this;
    }

    public boolean contains(int signal) {
        return (kernelMask() & bit(signal)) != 0;
    }

    /** The set as the kernel's 64-bit sigset_t (what KVM_SET_SIGNAL_MASK takes on x86-64). */
    public long kernelMask() {
        return segment.get(JAVA_LONG, 0);
    }

    private static long bit(int signal) {
        if (signal < 1 || signal > MAX_SIGNAL) {
            throw new IllegalArgumentException("signal " + signal + " is not in 1.." + MAX_SIGNAL);
        }
        return 1L << (signal - 1);
    }

    @Override
    public String toString() {
        StringJoiner j = new StringJoiner(", ", "{", "}");
        for (int sig = 1; sig <= MAX_SIGNAL; sig++) {
            if (contains(sig)) {
                j.add(Integer.toString(sig));
            }
        }
        return j.toString();
    }
}
