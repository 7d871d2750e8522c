package org.jvisor.devices.ide;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;

/**
 * What every drive on an IDE channel has: its copy of the command block registers, status and
 * error, and the PIO data buffer with its phase (ATA/ATAPI-6, 9.x protocols). A drive is a plain
 * state machine: the {@link IdeChannel} calls it under its lock and hands it the channel's
 * interrupt; it executes each command at once, on the thread that wrote the command register.
 *
 * <p>The drive knows nothing of its transport. The parallel channel reaches it through register
 * reads and writes; a serial host adapter (AHCI) through the public methods below, the way a SATA
 * device sees frames (Serial ATA 3.x, 11): a Register H2D FIS loads the registers and issues the
 * command, the data phases move whole blocks through the command's {@link DmaRegions}, and the
 * registers it reports back in the D2H and PIO Setup FISes are {@link #status()}, {@link #error()}
 * and {@link #registers()}. The caller serialises access, as the channel does.
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
    /** The monitor the controller holds around every call into the drive (the host's side takes it too). */
    private Object guard = this;

    IdeDrive(int bufferSize) {
        this.buffer = new byte[bufferSize];
    }

    public abstract IdeMedia media();

    final void attach(int unit, Runnable interrupt, Object guard) {
        this.unit = unit;
        this.interrupt = interrupt;
        this.guard = guard;
        powerOn();
    }

    /** The lock of the controller the drive is attached to: changes from the host (a new medium) take it. */
    final Object guard() {
        return guard;
    }

    /** Executes a command written to the command register (the drive is neither busy nor in a transfer). */
    abstract void execute(int opcode);

    /** The PIO buffer was drained (IN) or filled (OUT, PACKET): the protocol's next step. */
    abstract void pioDone();

    /** The DMA transfer the drive waits for. */
    abstract DmaRequest dmaRequest();

    /** Runs the waiting DMA transfer through {@code prd}; sets the drive's status and raises its interrupt. */
    abstract DmaOutcome runDma(DmaRegions prd);

    /** Drops a waiting DMA transfer (the bus master was stopped). */
    abstract void cancelDma();

    /** The power-on (hardware) reset: registers, modes and the signature. */
    abstract void powerOn();

    /** The software reset (SRST): transfers dropped, the signature and diagnostic result set. */
    abstract void softReset();

    abstract IdeDriveState save();

    /** Takes {@code s} after checking it fits this drive ({@code where} names it in errors). */
    abstract void restore(String where, IdeDriveState s) throws DeviceStateException;

    // ---- the host adapter's side (a serial transport) ------------------------------------------

    /**
     * Takes the drive as the only device of a serial port (unit 0), with the port's interrupt;
     * {@code guard} is the lock the host adapter holds around every call into the drive.
     */
    public final void attachToPort(Runnable interrupt, Object guard) {
        attach(0, interrupt, guard);
    }

    /** The status register (ATA/ATAPI-6, 7.15). */
    public final int status() {
        return status;
    }

    /** The error register (ATA/ATAPI-6, 7.11). */
    public final int error() {
        return error;
    }

    /** The command block registers, both halves, as a D2H or PIO Setup FIS reports them. */
    public final TaskfileState registers() {
        return taskfile.save();
    }

    /**
     * A Register H2D FIS with the C bit (SATA 3.x, 10.5.5): the registers, then the command. As on
     * the parallel bus, a command to a busy drive (BSY or DRQ) is ignored.
     */
    public final void issue(TaskfileState registers, int opcode) {
        taskfile.restore(registers);
        taskfile.device = taskfile.device & ~Ata.DEVICE_DEV | Ata.DEVICE_OBSOLETE;
        if ((status & (Ata.BSY | Ata.DRQ)) != 0) {
            return;
        }
        execute(opcode & 0xFF);
    }

    /** The PIO phase the command is in (NONE once it is done or waits for DMA). */
    public final PioPhase pioPhase() {
        return phase;
    }

    /** The bytes of the current PIO block not yet moved. */
    public final int pioBlockLeft() {
        return end - position;
    }

    /**
     * Moves the rest of the current PIO block (IN: to memory; OUT: from memory) through
     * {@code regions} and takes the protocol's next step, as a host draining or filling the data
     * register would. False, with nothing else changed, when the regions end first.
     */
    public final boolean transferPio(DmaRegions regions) {
        if (phase != PioPhase.IN && phase != PioPhase.OUT) {
            return false;
        }
        int n = end - position;
        if (!regions.transfer(buffer, position, n, phase == PioPhase.IN)) {
            return false;
        }
        position = end;
        pioDone();
        return true;
    }

    /**
     * The ATAPI command packet of a PACKET command (AHCI keeps it in the command table's ACMD):
     * the drive takes {@code cdb}'s first 12 bytes as a host's 6 data register writes and runs it.
     */
    public final void sendPacket(byte[] cdb) {
        if (phase != PioPhase.PACKET) {
            return;
        }
        int n = end - position;
        System.arraycopy(cdb, 0, buffer, position, n);
        position = end;
        pioDone();
    }

    /** The DMA transfer the drive waits for (NONE: none). */
    public final DmaRequest pendingDma() {
        return dmaRequest();
    }

    /** Runs the DMA transfer the drive waits for through {@code regions}, to its end. */
    public final DmaOutcome transferDma(DmaRegions regions) {
        return runDma(regions);
    }

    /**
     * The host adapter gives up on the command (its PRD table is too short, or lies outside
     * memory): any transfer is dropped and the command ends with ABRT.
     */
    public final void abortCommand() {
        if (dmaRequest() != DmaRequest.NONE) {
            cancelDma();
        }
        fail(Ata.ABRT);
    }

    /** The power-on reset a COMRESET gives the device (SATA 3.x, 11.4): registers, modes, signature. */
    public final void comReset() {
        powerOn();
    }

    /** The software reset of a Register H2D FIS with SRST set (a device control FIS). */
    public final void controlReset() {
        softReset();
    }

    /** The drive's state, for its host adapter's snapshot. */
    public final IdeDriveState saveState() {
        return save();
    }

    /** Takes {@code s} after checking it fits this drive ({@code where} names it in errors). */
    public final void restoreState(String where, IdeDriveState s) throws DeviceStateException {
        restore(where, s);
    }

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
