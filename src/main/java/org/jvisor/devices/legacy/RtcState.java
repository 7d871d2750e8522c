package org.jvisor.devices.legacy;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of an {@link RtcCmos}: the 128 CMOS bytes (registers A-D, the frozen
 * time image while SET is on, the battery-backed RAM), the index port, and the running clock as
 * "epoch second {@code baseSeconds} began {@code sinceBaseNs} guest nanoseconds before the save"
 * (so the sub-second phase and the next update survive a restore on another clock). The counts of
 * updates and periodic ticks already reflected in register C keep flags from being raised twice.
 * The IRQ8 level and the timer arming are derived.
 *
 * @param cmos              the 128 bytes of CMOS (time registers hold the image only while frozen)
 * @param index             the index register (port 0x70, bits 6:0)
 * @param nmiDisabled       port 0x70 bit 7
 * @param baseSeconds       the epoch second (UTC) the clock showed at its last whole-second origin
 * @param sinceBaseNs       guest nanoseconds from that origin to the save, at least 0
 * @param updatesAccounted  updates since the origin already accounted in register C (UF, AF)
 * @param periodsAccounted  periodic ticks since the origin already accounted in register C (PF)
 */
public record RtcState(Bytes cmos, int index, boolean nmiDisabled, long baseSeconds, long sinceBaseNs,
                       long updatesAccounted, long periodsAccounted) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
