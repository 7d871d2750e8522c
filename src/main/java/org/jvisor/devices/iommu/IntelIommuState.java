package org.jvisor.devices.iommu;

import java.util.List;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of an {@link IntelIommu}: every register's value (by
 * {@link VtdRegister} order; CAP and ECAP are checked against the configuration on restore), and
 * what the unit latched from them: the root table (SRTP) and the interrupt remapping table
 * (SIRTP). Nothing is cached across a restore: the IOTLB starts empty.
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
