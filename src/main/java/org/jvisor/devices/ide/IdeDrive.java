package org.jvisor.devices.ide;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;

/**
 * What every drive on an IDE channel has: its copy of the command block registers, status and
 * error, and the PIO data buffer with its phase (ATA/ATAPI-6, 9.x protocols). A drive is a plain
 * state machine: the {@link IdeChannel} calls it under its lock and hands it the channel's
 * interrupt; it executes each command at once, on the thread that wrote the command register.
 */
public abstract sealed class IdeDrive permits AtaDisk, AtapiCdrom {
    final Taskfile taskfile = new Taskfile();
    final byte[] buffer;
    int status;
    int error;
    PioPhase phase = PioPhase.NONE;
    int position;
    int end;
    /** The drive's unit (0 master, 1 slave), set when the channel takes it. */
    int unit;
    private Runnable interrupt = () -> { };

    IdeDrive(int bufferSize) {
        this.buffer = new byte[bufferSize];
    }

    public abstract IdeMedia media();

    final void attach(int unit, Runnable interrupt) {
        this.unit = unit;
        this.interrupt = interrupt;
        powerOn();
    }

    /** Executes a command written to the command register (the drive is neither busy nor in a transfer). */
    abstract void execute(int opcode);

    /** The PIO buffer was drained (IN) or filled (OUT, PACKET): the protocol's next step. */
    abstract void pioDone();

    /** The DMA transfer the drive waits for. */
    abstract DmaRequest dmaRequest();

    /** Runs the waiting DMA transfer through {@code prd}; sets the drive's status and raises its interrupt. */
    abstract DmaOutcome runDma(PrdTable prd);

    /** Drops a waiting DMA transfer (the bus master was stopped). */
    abstract void cancelDma();

    /** The power-on (hardware) reset: registers, modes and the signature. */
    abstract void powerOn();

    /** The software reset (SRST): transfers dropped, the signature and diagnostic result set. */
    abstract void softReset();

    abstract IdeDriveState save();

    /** Takes {@code s} after checking it fits this drive ({@code where} names it in errors). */
    abstract void restore(String where, IdeDriveState s) throws DeviceStateException;

    // ---- PIO data register ----------------------------------------------------------------------

    /** A 16-bit read of the data register: the next two buffer bytes, or 0 outside a data-in phase. */
    final int readData() {
        if (phase != PioPhase.IN) {
            return 0;
        }
        int v = buffer[position] & 0xFF | (buffer[position + 1] & 0xFF) << 8;
        position += 2;
        if (position >= end) {
            pioDone();
        }
        return v;
    }

    /** A 16-bit write of the data register; ignored outside a data-out or packet phase. */
    final void writeData(int value) {
        if (phase != PioPhase.OUT && phase != PioPhase.PACKET) {
            return;
        }
        buffer[position] = (byte) value;
        buffer[position + 1] = (byte) (value >>> 8);
        position += 2;
        if (position >= end) {
            pioDone();
        }
    }

    // ---- protocol steps -------------------------------------------------------------------------

    final void startPio(PioPhase p, int length) {
        phase = p;
        position = 0;
        end = length;
        status |= Ata.DRQ;
    }

    final void stopPio() {
        phase = PioPhase.NONE;
        position = 0;
        end = 0;
        status &= ~Ata.DRQ;
    }

    final void raiseInterrupt() {
        interrupt.run();
    }

    /** The command ends without error: ready, interrupt. */
    final void complete() {
        stopPio();
        status = Ata.READY;
        raiseInterrupt();
    }

    /** The command ends with {@code errorBits} (ABRT, IDNF, UNC): DRDY and ERR, interrupt. */
    final void fail(int errorBits) {
        stopPio();
        status = Ata.DRDY | Ata.ERR;
        error = errorBits;
        raiseInterrupt();
    }

    /** ABRT: a command the drive does not have, or a bad parameter. */
    final void abort() {
        fail(Ata.ABRT);
    }

    // ---- state ----------------------------------------------------------------------------------

    /** The registers and PIO buffer as saved; subclasses add theirs. */
    final Bytes savedBuffer() {
        return Bytes.copyOf(buffer, 0, phase == PioPhase.NONE ? 0 : end);
    }

    final void restorePio(String where, PioPhase p, Bytes data, int pos) throws DeviceStateException {
        DeviceStateException.checkRange(where, "PIO buffer length", data.length(), 0, buffer.length);
        DeviceStateException.checkRange(where, "PIO position", pos, 0, data.length());
        if ((pos & 1) != 0 || (p == PioPhase.NONE) != (data.length() == 0)
                || (p != PioPhase.NONE && pos == data.length())) {
            throw new DeviceStateException(where + ": PIO phase " + p + " with " + data.length() + " bytes at " + pos);
        }
        phase = p;
        data.copyTo(buffer, 0);
        end = data.length();
        position = pos;
    }
}
