package org.jvisor.devices.legacy;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of an {@link I8259Pair}: both chips. The INTR output is derived.
 *
 * @param master the chip at 0x20 (its IR2 is the cascade)
 * @param slave  the chip at 0xA0
 */
public record PicState(Chip master, Chip slave) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }

    /**
     * One 8259A (data sheet, "Initialization" and "Operation Command Words"), with the input pin
     * levels it last saw: they are the edge detector's memory, so a device that re-drives its line
     * after a restore at the same level raises no new request.
     *
     * @param irr                interrupt request register
     * @param isr                in-service register
     * @param imr                interrupt mask register
     * @param pins               input levels (bit n = IRn high)
     * @param elcr               edge/level control (PIIX ELCR)
     * @param vectorBase         ICW2 (bits 7:3)
     * @param priorityBase       the IR with the highest priority (rotation), 0-7
     * @param initStep           0 initialized; 2, 3, 4 expecting that ICW
     * @param needIcw4           ICW1 IC4
     * @param single             ICW1 SNGL
     * @param levelTriggeredAll  ICW1 LTIM
     * @param autoEoi            ICW4 AEOI
     * @param rotateOnAutoEoi    OCW2 rotate in automatic EOI mode
     * @param specialFullyNested ICW4 SFNM
     * @param specialMask        OCW3 special mask mode
     * @param readIsr            OCW3: reads return ISR, not IRR
     * @param poll               OCW3 poll command pending
     */
    public record Chip(int irr, int isr, int imr, int pins, int elcr, int vectorBase, int priorityBase, int initStep,
                       boolean needIcw4, boolean single, boolean levelTriggeredAll, boolean autoEoi,
                       boolean rotateOnAutoEoi, boolean specialFullyNested, boolean specialMask, boolean readIsr,
                       boolean poll) {
    }
}
