package org.jvisor.devices.ide;

/**
 * The guest memory a drive's data moves through, as the host adapter describes it: the PIIX's
 * SFF-8038i PRD table ({@link PrdTable}) or an AHCI command table's PRDT. A drive asks how many
 * bytes the regions hold, then moves its data through them in order. Guest memory faults (a
 * region outside RAM) surface as {@link org.jvisor.memory.GuestMemoryException}.
 */
public interface DmaRegions {

    /** The bytes the regions describe in all (without moving the cursor). */
    long describedBytes();

    /**
     * Moves {@code length} bytes between {@code buffer} (from {@code offset}) and the regions at
     * the cursor: into guest memory when {@code toMemory}, out of it otherwise. False when the
     * regions ended first (the bytes up to there have moved).
     */
    boolean transfer(byte[] buffer, int offset, int length, boolean toMemory);
}
