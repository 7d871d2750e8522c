package org.jvisor.devices.legacy;

import java.util.List;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link Pit8254}: its three channels and the speaker-data bit of
 * port 0x61. IRQ0's level and the timer arming are derived.
 *
 * @param channels     channels 0, 1 and 2
 * @param speakerData  port 0x61 bit 1
 */
public record PitState(List<Channel> channels, boolean speakerData) implements DeviceState {
    public static final int VERSION = 1;

    public PitState {
        channels = List.copyOf(channels);
    }

    @Override
    public int version() {
        return VERSION;
    }

    /**
     * One counter (8254 data sheet, "Modes" and "Read Operations"). The counting element is not
     * stored: it follows from the count loaded and the clocks since the load, which is given as
     * guest nanoseconds before the save.
     *
     * @param mode           0-5
     * @param access         read/write mode: 1 LSB, 2 MSB, 3 LSB then MSB
     * @param bcd            BCD counting
     * @param countRegister  the count register as written
     * @param initial        the count the element started from, in clocks (1-65536)
     * @param sinceLoadNs    guest ns from the (re)load of the element to the save
     * @param loaded         a count was written after the control word
     * @param triggered      modes 1 and 5: the gate trigger came
     * @param gate           the gate input
     * @param frozen         modes 0 and 4: counting stopped by a low gate
     * @param frozenTicks    the clocks counted when it stopped
     * @param nullCount      the status byte's NULL COUNT
     * @param writeMsbNext   the next write is the MSB (access 3)
     * @param writeLsb       the LSB written before it
     * @param readMsbNext    the next unlatched read is the MSB (access 3)
     * @param countLatched   a count latch holds {@code latchedCount}
     * @param latchedCount   the latched count
     * @param latchedMsbNext the next latched read is the MSB
     * @param statusLatched  a status latch holds {@code latchedStatus}
     * @param latchedStatus  the latched status byte
     */
    public record Channel(int mode, int access, boolean bcd, int countRegister, long initial, long sinceLoadNs,
                          boolean loaded, boolean triggered, boolean gate, boolean frozen, long frozenTicks,
                          boolean nullCount, boolean writeMsbNext, int writeLsb, boolean readMsbNext,
                          boolean countLatched, int latchedCount, boolean latchedMsbNext, boolean statusLatched,
                          int latchedStatus) {
    }
}
