package org.jvisor.devices.ahci;

import org.jvisor.devices.ide.TaskfileState;

/**
 * The frame information structures a port exchanges with its device (Serial ATA 3.x, 10.5): it
 * decodes the Register H2D FIS of a command table and builds the Register D2H and PIO Setup
 * FISes it posts to the received-FIS area. One instance per port, reused: it allocates nothing
 * but the registers record a command carries.
 */
final class Fis {
    static final int TYPE_REGISTER_H2D = 0x27;
    static final int TYPE_REGISTER_D2H = 0x34;
    static final int TYPE_PIO_SETUP = 0x5F;
    static final int TYPE_SET_DEVICE_BITS = 0xA1;
    static final int SET_DEVICE_BITS_LENGTH = 8;
    static final int H2D_LENGTH = 20;
    static final int D2H_LENGTH = 20;
    static final int PIO_SETUP_LENGTH = 20;
    /** Register H2D byte 1: C, the FIS updates the command register (else the device control register). */
    static final int H2D_COMMAND = 0x80;
    /** D2H / PIO Setup byte 1: I, raise an interrupt. */
    static final int INTERRUPT = 0x40;
    /** PIO Setup byte 1: D, data moves from the device to the host. */
    static final int PIO_TO_HOST = 0x20;

    /** The command FIS as read from the command table. */
    final byte[] h2d = new byte[H2D_LENGTH];
    /** A FIS being built for the received-FIS area. */
    final byte[] out = new byte[D2H_LENGTH];

    int h2dType() {
        return h2d[0] & 0xFF;
    }

    boolean h2dIsCommand() {
        return (h2d[1] & H2D_COMMAND) != 0;
    }

    int h2dCommand() {
        return h2d[2] & 0xFF;
    }

    int h2dControl() {
        return h2d[15] & 0xFF;
    }

    /** The registers of a Register H2D FIS (byte layout: SATA 3.x, 10.5.5). */
    TaskfileState h2dRegisters() {
        return new TaskfileState(u8(3), u8(11), u8(12), u8(13), u8(4), u8(8), u8(5), u8(9), u8(6), u8(10), u8(7));
    }

    private int u8(int i) {
        return h2d[i] & 0xFF;
    }

    /** A Register D2H FIS (10.5.6) with the device's registers; {@code interrupt}: the I bit. */
    byte[] d2h(int status, int error, TaskfileState r, boolean interrupt) {
        java.util.Arrays.fill(out, (byte) 0);
        out[0] = (byte) TYPE_REGISTER_D2H;
        out[1] = (byte) (interrupt ? INTERRUPT : 0);
        out[2] = (byte) status;
        out[3] = (byte) error;
        registers(r);
        return out;
    }

    /**
     * A PIO Setup FIS (10.5.11) for a data-in command: the status before the data ({@code status},
     * with DRQ), the ending status ({@code endStatus}, byte 15) and the byte count of the transfer.
     */
    byte[] pioSetup(int status, int error, TaskfileState r, int endStatus, int byteCount) {
        java.util.Arrays.fill(out, (byte) 0);
        out[0] = (byte) TYPE_PIO_SETUP;
        out[1] = (byte) (PIO_TO_HOST | INTERRUPT);
        out[2] = (byte) status;
        out[3] = (byte) error;
        registers(r);
        out[15] = (byte) endStatus;
        out[16] = (byte) byteCount;
        out[17] = (byte) (byteCount >>> 8);
        return out;
    }

    /**
     * A Set Device Bits FIS (10.5.7) ending queued commands: the status bits it carries (6:4 and
     * 2:0), the error register, the SActive bits of the tags completed; with the I bit.
     */
    byte[] setDeviceBits(int status, int error, int tagsDone) {
        java.util.Arrays.fill(out, (byte) 0);
        out[0] = (byte) TYPE_SET_DEVICE_BITS;
        out[1] = (byte) INTERRUPT;
        out[2] = (byte) (status & 0x77);
        out[3] = (byte) error;
        out[4] = (byte) tagsDone;
        out[5] = (byte) (tagsDone >>> 8);
        out[6] = (byte) (tagsDone >>> 16);
        out[7] = (byte) (tagsDone >>> 24);
        return out;
    }

    private void registers(TaskfileState r) {
        out[4] = (byte) r.lbaLow();
        out[5] = (byte) r.lbaMid();
        out[6] = (byte) r.lbaHigh();
        out[7] = (byte) r.device();
        out[8] = (byte) r.hobLbaLow();
        out[9] = (byte) r.hobLbaMid();
        out[10] = (byte) r.hobLbaHigh();
        out[12] = (byte) r.count();
        out[13] = (byte) r.hobCount();
    }
}
