package org.jvisor.devices.fwcfg;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link FwCfg}: which item is selected and how far it was read, and
 * the high half of a DMA address written to 0x514 whose low half has not come yet. The items
 * themselves are the machine's configuration, built again on restore.
 *
 * @param selector   the selector register as last written (key with its write/arch bits)
 * @param offset     the next byte of the selected item the data port or DMA returns
 * @param dmaAddress the DMA address register (its high half set by a 32-bit write to 0x514)
 */
public record FwCfgState(int selector, int offset, long dmaAddress) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
