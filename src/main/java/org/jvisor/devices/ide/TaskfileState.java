package org.jvisor.devices.ide;

/** A drive's command block registers, both halves of each FIFO (see {@link Taskfile}). */
public record TaskfileState(int feature, int hobFeature, int count, int hobCount, int lbaLow, int hobLbaLow,
                            int lbaMid, int hobLbaMid, int lbaHigh, int hobLbaHigh, int device) {
}
