package org.jvisor.devices.iommu;

import java.util.concurrent.atomic.LongAdder;

/** What the guest asked of the remapping unit, counted: invalidations by kind, waits, walks, faults. */
public final class VtdCounters {
    final LongAdder contextInvalidations = new LongAdder();
    final LongAdder iotlbInvalidations = new LongAdder();
    final LongAdder deviceIotlbInvalidations = new LongAdder();
    final LongAdder interruptEntryInvalidations = new LongAdder();
    final LongAdder waits = new LongAdder();
    final LongAdder walks = new LongAdder();
    final LongAdder faults = new LongAdder();
    final LongAdder remappedInterrupts = new LongAdder();

    public long contextInvalidations() {
        return contextInvalidations.sum();
    }

    public long iotlbInvalidations() {
        return iotlbInvalidations.sum();
    }

    public long deviceIotlbInvalidations() {
        return deviceIotlbInvalidations.sum();
    }

    public long interruptEntryInvalidations() {
        return interruptEntryInvalidations.sum();
    }

    public long waits() {
        return waits.sum();
    }

    /** Page walks: IOTLB misses of the devices' views. */
    public long walks() {
        return walks.sum();
    }

    public long faults() {
        return faults.sum();
    }

    public long remappedInterrupts() {
        return remappedInterrupts.sum();
    }

    @Override
    public String toString() {
        return String.format("context-inv %d, iotlb-inv %d, dev-iotlb-inv %d, iec-inv %d, waits %d, walks %d, faults %d, "
            + "remapped-irqs %d", contextInvalidations(), iotlbInvalidations(), deviceIotlbInvalidations(),
            interruptEntryInvalidations(), waits(), walks(), faults(), remappedInterrupts());
    }
}
