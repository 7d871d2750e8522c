package org.jvisor.devices.legacy;

import org.jvisor.backend.chr.CharBackend;
import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * A 16550A UART (PC16550D data sheet): eight registers, divisor latch, FIFOs, loopback and the four
 * interrupt sources with their priorities. Transmission takes no time while the backend has room;
 * when it has none (a socket client reading slowly) the bytes wait in the 16-byte transmit FIFO,
 * THRE and TEMT stay clear and the THRE interrupt comes once the backend took them, so the guest's
 * driver waits as on a slow line and no output is lost, while the vCPU never blocks (QEMU's
 * serial_xmit does the same with a chardev watch). Host input is queued beyond the 16-byte FIFO
 * (the backend cannot be paused), so pasted text is never lost.
 */
public final class Serial16550 implements BusDevice, CharBackend.Sink, StatefulDevice<UartState> {
    // Register offsets
    private static final int RBR_THR_DLL = 0;
    private static final int IER_DLM = 1;
    private static final int IIR_FCR = 2;
    private static final int LCR = 3;
    private static final int MCR = 4;
    private static final int LSR = 5;
    private static final int MSR = 6;
    private static final int SCR = 7;

    // IER bits
    private static final int IER_ERBFI = 0x01;
    private static final int IER_ETBEI = 0x02;
    private static final int IER_ELSI = 0x04;
    private static final int IER_EDSSI = 0x08;

    // IIR values (interrupt identification, highest priority first)
    private static final int IIR_NONE = 0x01;
    private static final int IIR_RLS = 0x06;
    private static final int IIR_RDA = 0x04;
    private static final int IIR_THRE = 0x02;
    private static final int IIR_MS = 0x00;
    private static final int IIR_FIFO_ENABLED = 0xC0;

    // LSR bits
    private static final int LSR_DR = 0x01;
    private static final int LSR_OE = 0x02;
    private static final int LSR_THRE = 0x20;
    private static final int LSR_TEMT = 0x40;

    // MCR bits
    private static final int MCR_DTR = 0x01;
    private static final int MCR_RTS = 0x02;
    private static final int MCR_OUT1 = 0x04;
    private static final int MCR_OUT2 = 0x08;
    private static final int MCR_LOOP = 0x10;

    private static final int LCR_DLAB = 0x80;
    private static final int FCR_ENABLE = 0x01;
    private static final int FCR_CLEAR_RX = 0x02;
    private static final int FCR_CLEAR_TX = 0x04;
    private static final int QUEUE = 1 << 16;
    private static final int TX_FIFO = 16;
    private static final String NAME = "16550A UART";

    private final CharBackend backend;
    private final IrqLine irq;

    private int ier;
    private int lcr = 0x03;
    private int mcr = MCR_OUT2;
    private int msrDelta;
    private int scr;
    private int fcr;
    private int divisor = 12;
    private boolean thrInterruptPending;
    private boolean overrun;
    /** Input: a ring of host bytes not yet read by the guest. */
    private final byte[] rx = new byte[QUEUE];
    private int rxHead;
    private int rxCount;
    private boolean irqLevel;
    /** Output the backend has not taken yet: the transmit FIFO (16 bytes, as the 16550A's). */
    private final byte[] tx = new byte[TX_FIFO];
    private int txHead;
    private int txCount;
    /** A callback for room in the backend is registered. */
    private boolean txWaiting;

    public Serial16550(CharBackend backend, IrqLine irq) {
        this.backend = backend;
        this.irq = irq;
    }

    /** Starts accepting host input. */
    public void start() {
        backend.start(this);
    }

    @Override
    public synchronized long read(long offset, int size) {
        int v = switch ((int) offset) {
            case RBR_THR_DLL -> (lcr & LCR_DLAB) != 0 ? divisor & 0xFF : readRbr();
            case IER_DLM -> (lcr & LCR_DLAB) != 0 ? (divisor >> 8) & 0xFF : ier;
            case IIR_FCR -> readIir();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> readLsr();
            case MSR -> readMsr();
            case SCR -> scr;
            default -> 0xFF;
        };
        updateIrq();
        return v;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) value & 0xFF;
        switch ((int) offset) {
            case RBR_THR_DLL -> {
                if ((lcr & LCR_DLAB) != 0) {
                    divisor = (divisor & 0xFF00) | v;
                } else {
                    transmit(v);
                }
            }
            case IER_DLM -> {
                if ((lcr & LCR_DLAB) != 0) {
                    divisor = (divisor & 0xFF) | (v << 8);
                } else {
                    boolean thrEnabledNow = (v & IER_ETBEI) != 0 && (ier & IER_ETBEI) == 0;
                    ier = v & 0x0F;
                    // Enabling ETBEI with THR empty raises THRE at once (data sheet, IIR).
                    if (thrEnabledNow && txCount == 0) {
                        thrInterruptPending = true;
                    }
                }
            }
            case IIR_FCR -> {
                fcr = v & 0xC9;
                if ((v & FCR_CLEAR_RX) != 0 || (v & FCR_ENABLE) == 0) {
                    rxHead = 0;
                    rxCount = 0;
                }
                if ((v & FCR_CLEAR_TX) != 0 && txCount > 0) {
                    txCount = 0;    // what the backend has not taken is discarded, as the chip's XMIT FIFO reset
                    thrInterruptPending = (ier & IER_ETBEI) != 0;
                }
            }
            case LCR -> lcr = v;
            case MCR -> {
                int changed = (mcr ^ v) & 0x0F;
                mcr = v & 0x1F;
                if ((mcr & MCR_LOOP) != 0 && changed != 0) {
                    msrDelta |= loopbackDelta(changed);
                }
            }
            case SCR -> scr = v;
            default -> {
                // LSR and MSR are read-only
            }
        }
        updateIrq();
    }

    private void transmit(int v) {
        if ((mcr & MCR_LOOP) != 0) {
            enqueue((byte) v);
            thrInterruptPending = (ier & IER_ETBEI) != 0;
            return;
        }
        if (txCount == TX_FIFO) {
            return;     // a write to a full FIFO is lost, as on the chip (the guest did not check THRE)
        }
        tx[(txHead + txCount) % TX_FIFO] = (byte) v;
        txCount++;
        thrInterruptPending = false;
        pushTx();
    }

    /**
     * Hands the transmit FIFO to the backend as far as it takes it; when it is empty, THRE
     * (and its interrupt, if enabled). Called with the lock held.
     */
    private void pushTx() {
        while (txCount > 0) {
            if (!backend.offer(tx[txHead] & 0xFF)) {
                if (!txWaiting) {
                    txWaiting = true;
                    backend.whenWritable(this::backendWritable);
                }
                return;
            }
            txHead = (txHead + 1) % TX_FIFO;
            txCount--;
        }
        thrInterruptPending = (ier & IER_ETBEI) != 0;
    }

    /** The backend has room again (its thread): the FIFO moves on. */
    private synchronized void backendWritable() {
        txWaiting = false;
        if (txCount > 0) {
            pushTx();
            updateIrq();
        }
    }

    private int readRbr() {
        if (rxCount == 0) {
            return 0;
        }
        int v = rx[rxHead] & 0xFF;
        rxHead = (rxHead + 1) & (QUEUE - 1);
        rxCount--;
        return v;
    }

    private int readIir() {
        int id = pendingInterrupt();
        if (id == IIR_THRE) {
            // Reading IIR with THRE as the source clears it.
            thrInterruptPending = false;
        }
        return id | ((fcr & FCR_ENABLE) != 0 ? IIR_FIFO_ENABLED : 0);
    }

    private int readLsr() {
        if (txCount > 0) {
            pushTx();       // a polling guest moves the FIFO on as room appears
        }
        int v = txCount == 0 ? LSR_THRE | LSR_TEMT : 0;
        if (rxCount > 0) {
            v |= LSR_DR;
        }
        if (overrun) {
            v |= LSR_OE;
            overrun = false;
        }
        return v;
    }

    private int readMsr() {
        int status;
        if ((mcr & MCR_LOOP) != 0) {
            // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
            status = ((mcr & MCR_DTR) != 0 ? 0x20 : 0) | ((mcr & MCR_RTS) != 0 ? 0x10 : 0)
                | ((mcr & MCR_OUT1) != 0 ? 0x40 : 0) | ((mcr & MCR_OUT2) != 0 ? 0x80 : 0);
        } else {
            // A connected host: carrier, data set ready, clear to send.
            status = 0x80 | 0x20 | 0x10;
        }
        int v = status | msrDelta;
        msrDelta = 0;
        return v;
    }

    private static int loopbackDelta(int changedMcr) {
        return ((changedMcr & MCR_RTS) != 0 ? 0x01 : 0) | ((changedMcr & MCR_DTR) != 0 ? 0x02 : 0)
            | ((changedMcr & MCR_OUT1) != 0 ? 0x04 : 0) | ((changedMcr & MCR_OUT2) != 0 ? 0x08 : 0);
    }

    private int pendingInterrupt() {
        if ((ier & IER_ELSI) != 0 && overrun) {
            return IIR_RLS;
        }
        if ((ier & IER_ERBFI) != 0 && rxCount > 0) {
            return IIR_RDA;
        }
        if ((ier & IER_ETBEI) != 0 && thrInterruptPending) {
            return IIR_THRE;
        }
        if ((ier & IER_EDSSI) != 0 && msrDelta != 0) {
            return IIR_MS;
        }
        return IIR_NONE;
    }

    private void updateIrq() {
        // On the PC the UART's interrupt output reaches the PIC only through OUT2.
        boolean level = pendingInterrupt() != IIR_NONE && (mcr & MCR_OUT2) != 0;
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    private void enqueue(byte b) {
        if (rxCount == QUEUE) {
            overrun = true;
            return;
        }
        rx[(rxHead + rxCount) & (QUEUE - 1)] = b;
        rxCount++;
    }

    /** Host input from the backend's thread. */
    @Override
    public synchronized void receive(byte[] data, int length) {
        if ((mcr & MCR_LOOP) != 0) {
            return; // in loopback the receiver is disconnected from the outside
        }
        for (int i = 0; i < length; i++) {
            enqueue(data[i]);
        }
        updateIrq();
    }

    @Override
    public synchronized UartState saveState() {
        byte[] received = new byte[rxCount];
        for (int i = 0; i < rxCount; i++) {
            received[i] = rx[(rxHead + i) & (QUEUE - 1)];
        }
        // what the backend has not taken travels with the state (as QEMU's serial migrates its
        // XMIT FIFO): a client that stopped reading loses nothing across a snapshot or migration
        byte[] transmit = new byte[txCount];
        for (int i = 0; i < txCount; i++) {
            transmit[i] = tx[(txHead + i) % TX_FIFO];
        }
        return new UartState(divisor, ier, lcr, mcr, fcr, scr, msrDelta, thrInterruptPending, overrun,
            Bytes.copyOf(received), Bytes.copyOf(transmit));
    }

    /**
     * Restores the registers, the received bytes and the transmit FIFO, which goes on to the
     * backend; the IRQ is driven to the level they imply.
     */
    @Override
    public synchronized void restoreState(UartState s) throws DeviceStateException {
        DeviceStateException.checkRange(NAME, "divisor", s.divisor(), 0, 0xFFFF);
        DeviceStateException.checkBits(NAME, "IER", s.ier(), 0x0F);
        DeviceStateException.checkRange(NAME, "LCR", s.lcr(), 0, 0xFF);
        DeviceStateException.checkBits(NAME, "MCR", s.mcr(), 0x1F);
        DeviceStateException.checkBits(NAME, "FCR", s.fcr(), 0xC9);
        DeviceStateException.checkRange(NAME, "SCR", s.scr(), 0, 0xFF);
        DeviceStateException.checkBits(NAME, "MSR delta", s.msrDelta(), 0x0F);
        DeviceStateException.checkRange(NAME, "received bytes", s.received().length(), 0, QUEUE);
        DeviceStateException.checkRange(NAME, "transmit FIFO bytes", s.transmit().length(), 0, TX_FIFO);
        divisor = s.divisor();
        ier = s.ier();
        lcr = s.lcr();
        mcr = s.mcr();
        fcr = s.fcr();
        scr = s.scr();
        msrDelta = s.msrDelta();
        thrInterruptPending = s.thrInterruptPending();
        overrun = s.overrun();
        rxHead = 0;
        rxCount = s.received().length();
        s.received().copyTo(rx, 0);
        txHead = 0;
        txCount = s.transmit().length();
        s.transmit().copyTo(tx, 0);
        if (txCount > 0) {
            pushTx();   // on to this machine's backend, as far as it takes them now; the rest when it has room
        }
        updateIrq();
    }

    @Override
    public Class<UartState> stateType() {
        return UartState.class;
    }

    /** How many input bytes the guest has not read yet (for tests and flow control). */
    public synchronized int pendingInput() {
        return rxCount;
    }

    /** Divisor latch value (baud = 115200 / divisor). */
    public synchronized int divisor() {
        return divisor;
    }
}
