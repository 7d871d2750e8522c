package org.jvisor.devices.legacy;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link Serial16550}: the registers as the guest programmed them,
 * the interrupt latches the data sheet describes (THRE pending, overrun, modem-status deltas) and
 * the received bytes the guest has not read and the transmit FIFO's bytes the backend has not
 * taken (a socket client that stopped reading), oldest first. The IRQ level is derived.
 *
 * @param divisor             the divisor latch (DLM:DLL)
 * @param ier                 interrupt enable (bits 3:0)
 * @param lcr                 line control (DLAB in bit 7)
 * @param mcr                 modem control (bits 4:0; loopback in bit 4)
 * @param fcr                 FIFO control as kept (enable, DMA mode, trigger level)
 * @param scr                 scratch
 * @param msrDelta            modem-status delta bits 3:0 not yet read
 * @param thrInterruptPending the THRE interrupt is pending (cleared by reading IIR or writing THR)
 * @param overrun             LSR.OE is set
 * @param received            received bytes not yet read, oldest first
 * @param transmit            the transmit FIFO: bytes written to THR the backend has not taken, oldest first
 */
public record UartState(int divisor, int ier, int lcr, int mcr, int fcr, int scr, int msrDelta,
                        boolean thrInterruptPending, boolean overrun, Bytes received, Bytes transmit)
        implements DeviceState {
    public static final int VERSION = 2;

    @Override
    public int version() {
        return VERSION;
    }
}
