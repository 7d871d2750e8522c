package org.jvisor.devices.iommu;

import java.util.List;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of an {@link IntelIommu}: every register's value (by
 * {@link VtdRegister} order; CAP and ECAP are checked against the configuration on restore), and
 * what the unit latched from them: the root table (SRTP) and the interrupt remapping table
 * (SIRTP). Nothing is cached across a restore: the IOTLB and every function's device-TLB start
 * empty. That is correct for caches: the tables they were filled from are in guest RAM, which the
 * snapshot holds, so the next access asks again and gets what the guest has mapped; the only
 * difference a guest could see is a stale entry it had not invalidated yet being gone early, and
 * a cache may drop entries at any time (VT-d 6.1; PCIe ATS 10.2: an ATC may evict at will).
 *
 * @param registers      the value of each register, in {@link VtdRegister} declaration order
 * @param rootTable      RTADDR as latched by the last SRTP
 * @param irta           IRTA as latched by the last SIRTP
 */
public record IntelIommuState(List<Long> registers, long rootTable, long irta) implements DeviceState {
    public static final int VERSION = 1;

    public IntelIommuState {
        registers = List.copyOf(registers);
    }

    @Override
    public int version() {
        return VERSION;
    }
}
