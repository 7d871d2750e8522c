package org.jvisor.tcg;

import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * Atomic access to guest RAM for LOCK-prefixed instructions and A/D-bit updates (SDM vol. 3,
 * 8.1.2). Coordinates are (MemorySegment, long offset); offsets must be naturally aligned.
 */
final class Atomics {
    static final VarHandle BYTE = ValueLayout.JAVA_BYTE.varHandle();
    static final VarHandle SHORT = ValueLayout.JAVA_SHORT.varHandle();
    static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private Atomics() {
    }
}
