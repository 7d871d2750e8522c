package org.jvisor.devices.intc;

import java.util.List;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of an {@link IoApic}: ID, the register selector, the 24 redirection
 * entries (remote IRR and delivery status included), and the input side: pin levels and requests
 * not yet delivered (edges on masked pins, level pins held high). Nothing is re-sent on restore:
 * messages already delivered live in the local APICs' IRRs.
 *
 * @param id                 the IOAPIC ID (bits 27:24 of register 0)
 * @param ioregsel           IOREGSEL
 * @param redirectionEntries the 64-bit redirection entries of pins 0-23
 * @param pinLevels          input levels (bit n = pin n asserted)
 * @param irr                requests not yet sent (bit n = pin n)
 */
public record IoApicState(int id, int ioregsel, List<Long> redirectionEntries, int pinLevels, int irr)
        implements DeviceState {
    public static final int VERSION = 1;

    public IoApicState {
        redirectionEntries = List.copyOf(redirectionEntries);
    }

    @Override
    public int version() {
        return VERSION;
    }
}
