package org.jvisor.tcg;

/**
 * Thrown by a store, before it writes, when it hits the code page of the unit running on the same
 * vCPU (self-modifying code): the unit's later instructions may be stale. The unit stops with the
 * state before the storing instruction, which then runs in the interpreter (invalidating the page)
 * and translation starts over (QEMU does the same when a TB modifies itself).
 */
final class CodeModified extends RuntimeException {
    CodeModified() {
        super(null, null, false, false);
    }
}
