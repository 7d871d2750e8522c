package org.jvisor.tcg;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLongArray;
import org.jvisor.memory.IrqLine;

/**
 * Stand-in for tcg's interrupt controller until the PIC/IOAPIC/LAPIC models arrive: it records
 * the level of each GSI line (and counts rising edges) but routes nothing to the vCPUs, so it
 * never reports a pending vector. It wakes halted vCPUs on every change so the real controller
 * can later slot in behind the same {@link InterruptSource} seam.
 */
public final class IrqLevels implements InterruptSource {
    public static final int LINES = 24;

    private final AtomicLongArray levels = new AtomicLongArray(LINES);
    private final AtomicLongArray edges = new AtomicLongArray(LINES);
    private final CopyOnWriteArrayList<Runnable> wakers = new CopyOnWriteArrayList<>();

    public IrqLine line(int gsi) {
        if (gsi < 0 || gsi >= LINES) {
            throw new IllegalArgumentException("GSI " + gsi + " is outside 0.." + (LINES - 1));
        }
        return level -> {
            long old = levels.getAndSet(gsi, level ? 1 : 0);
            if (level && old == 0) {
                edges.incrementAndGet(gsi);
            }
            for (Runnable r : wakers) {
                r.run();
            }
        };
    }

    public boolean level(int gsi) {
        return levels.get(gsi) != 0;
    }

    public long risingEdges(int gsi) {
        return edges.get(gsi);
    }

    @Override
    public boolean hasPendingInterrupt() {
        return false;
    }

    @Override
    public int acknowledgeInterrupt() {
        return -1;
    }

    @Override
    public void onPending(Runnable wake) {
        wakers.add(wake);
    }
}
