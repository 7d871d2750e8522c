package org.jvisor.devices.ide;

import java.util.Optional;
import java.util.function.BooleanSupplier;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.IrqLine;

/**
 * One IDE channel (ATA/ATAPI-6 chapter 5-7): the command block (8 ports), the control block (one
 * port: alternate status / device control) and the channel's bus master, with up to two drives.
 *
 * <ul>
 * <li>Command block writes reach both drives (each latches its copy); the device register's DEV
 * bit selects the drive that reads and commands address. A drive that is not there reads 0 in
 * every register, and commands to it are ignored (QEMU's behaviour).</li>
 * <li>The interrupt (INTRQ) rises when a drive asks for it unless device control's nIEN is set,
 * and falls when the host reads the status register, writes a command, or resets the channel.
 * Raising it sets the bus master's INTERRUPT bit, as the PIIX's bus master latches IRQ14/15.</li>
 * <li>Device control: SRST resets both drives on its rising edge, and status reads show BSY while
 * it is held; HOB selects the high half of the register FIFOs and clears on any taskfile write.</li>
 * <li>A bus master transfer runs when the selected drive waits for DMA and START is set (in
 * either order), synchronously, to the end.</li>
 * </ul>
 * All access is serialised on the channel.
 */
public final class IdeChannel {
    private final IdeDrive[] drives = new IdeDrive[2];
    private final IrqLine irq;
    private final BusMasterDma busMaster = new BusMasterDma();
    private final PrdTable prd = new PrdTable();
    private final String name;
    private final DmaSpace dma;
    private BooleanSupplier busMasterEnabled = () -> true;
    private int control;
    private int selected;
    private boolean interruptPending;
    private boolean lineLevel;

    /**
     * @param name the channel's name in state errors ("ide0")
     * @param irq  the channel's interrupt line (ISA IRQ 14 or 15)
     * @param dma  guest memory as the bus master reaches it
     */
    public IdeChannel(String name, IrqLine irq, DmaSpace dma) {
        this.name = name;
        this.irq = irq;
        this.dma = dma;
    }

    /** Attaches {@code drive} as unit 0 (master) or 1 (slave). */
    public synchronized void attach(int unit, IdeDrive drive) {
        if (unit < 0 || unit > 1 || drives[unit] != null) {
            throw new IllegalArgumentException(name + ": unit " + unit + " is taken or does not exist");
        }
        drives[unit] = drive;
        drive.attach(unit, this::interrupt, this);
    }

    /** The drive at {@code unit}, or null. */
    public synchronized IdeDrive drive(int unit) {
        return drives[unit];
    }

    /** Bus mastering is allowed only while this says so (the PCI function's COMMAND bit). */
    void busMasterGate(BooleanSupplier enabled) {
        this.busMasterEnabled = enabled;
    }

    // ---- command block --------------------------------------------------------------------------

    /** The command block's ports (base + 0..7). */
    public BusDevice commandBlock() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return readCommandBlock((int) offset, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                writeCommandBlock((int) offset, size, (int) value);
            }
        };
    }

    /** The control block's port (alternate status / device control: 0x3F6, 0x376). */
    public BusDevice controlBlock() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return readAltStatus();
            }

            @Override
            public void write(long offset, int size, long value) {
                writeDeviceControl((int) value & 0xFF);
            }
        };
    }

    synchronized long readCommandBlock(int offset, int size) {
        AtaRegister r = AtaRegister.at(offset);
        IdeDrive d = drives[selected];
        if (r == AtaRegister.DATA) {
            if (d == null || size == 1) {
                return size == 1 ? 0xFF : 0; // QEMU: byte reads of the data port give 0xFF
            }
            long v = d.readData();
            if (size >= 4) {
                v |= (long) d.readData() << 16;
            }
            return v;
        }
        if (r == AtaRegister.STATUS_COMMAND) {
            lowerInterrupt();
        }
        if (d == null) {
            return 0;
        }
        boolean hob = (control & Ata.CONTROL_HOB) != 0;
        return switch (r) {
            case ERROR_FEATURES -> hob ? d.taskfile.hobFeature : d.error;
            case STATUS_COMMAND -> statusOf(d);
            default -> d.taskfile.read(r, hob);
        };
    }

    synchronized void writeCommandBlock(int offset, int size, int value) {
        AtaRegister r = AtaRegister.at(offset);
        switch (r) {
            case DATA -> {
                IdeDrive d = drives[selected];
                if (d != null && size >= 2) {
                    d.writeData(value & 0xFFFF);
                    if (size >= 4) {
                        d.writeData(value >>> 16);
                    }
                }
            }
            case DEVICE -> {
                for (IdeDrive d : drives) {
                    if (d != null) {
                        d.taskfile.device = value & ~Ata.DEVICE_DEV & 0xFF | Ata.DEVICE_OBSOLETE
                            | (d.unit == 1 ? Ata.DEVICE_DEV : 0);
                    }
                }
                selected = (value & Ata.DEVICE_DEV) != 0 ? 1 : 0;
            }
            case STATUS_COMMAND -> command(value & 0xFF);
            default -> {
                control &= ~Ata.CONTROL_HOB;
                for (IdeDrive d : drives) {
                    if (d != null) {
                        d.taskfile.write(r, value);
                    }
                }
            }
        }
    }

    private void command(int opcode) {
        control &= ~Ata.CONTROL_HOB;
        IdeDrive d = drives[selected];
        if (d == null || (control & Ata.CONTROL_SRST) != 0) {
            return;
        }
        // While busy or transferring only DEVICE RESET reaches a packet device (ATA/ATAPI-6, 6.x);
        // anything else is ignored, as QEMU does.
        boolean reset = opcode == AtaCommand.DEVICE_RESET.opcode && d.media() == IdeMedia.CDROM;
        if ((d.status & (Ata.BSY | Ata.DRQ)) != 0 && !reset) {
            return;
        }
        lowerInterrupt();
        d.execute(opcode);
        startDmaIfReady();
    }

    private int statusOf(IdeDrive d) {
        return (control & Ata.CONTROL_SRST) != 0 ? Ata.BSY : d.status;
    }

    synchronized int readAltStatus() {
        IdeDrive d = drives[selected];
        return d == null ? 0 : statusOf(d);
    }

    synchronized void writeDeviceControl(int value) {
        boolean wasReset = (control & Ata.CONTROL_SRST) != 0;
        control = value & (Ata.CONTROL_HOB | Ata.CONTROL_SRST | Ata.CONTROL_NIEN);
        if (!wasReset && (value & Ata.CONTROL_SRST) != 0) {
            stopBusMaster();
            for (IdeDrive d : drives) {
                if (d != null) {
                    d.softReset();
                }
            }
            selected = 0; // the reset leaves DEV clear
            lowerInterrupt();
        }
    }

    // ---- interrupt ------------------------------------------------------------------------------

    private void interrupt() {
        if ((control & Ata.CONTROL_NIEN) != 0) {
            return;
        }
        interruptPending = true;
        busMaster.status |= BusMasterDma.STATUS_INTERRUPT;
        driveLine();
    }

    private void lowerInterrupt() {
        interruptPending = false;
        driveLine();
    }

    private void driveLine() {
        if (lineLevel != interruptPending) {
            lineLevel = interruptPending;
            irq.set(lineLevel);
        }
    }

    // ---- bus master -----------------------------------------------------------------------------

    /** A guest read of the bus master registers (8 bytes of BAR4). */
    synchronized long readBusMaster(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            v |= (long) busMaster.readByte((offset + i) & 7) << (8 * i);
        }
        return v;
    }

    /** A guest write of the bus master registers, byte by byte. */
    synchronized void writeBusMaster(int offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            int o = (offset + i) & 7;
            int b = (int) (value >>> (8 * i)) & 0xFF;
            switch (o) {
                case BusMasterDma.COMMAND -> writeBusMasterCommand(b);
                case BusMasterDma.STATUS -> busMaster.writeStatus(b);
                case 4, 5, 6, 7 -> busMaster.writePrdByte(o, b);
                default -> { }
            }
        }
    }

    private void writeBusMasterCommand(int value) {
        boolean start = (value & BusMasterDma.COMMAND_START) != 0;
        if (start != busMaster.started()) {
            if (!start) {
                stopBusMaster();
            } else {
                busMaster.command = value & BusMasterDma.COMMAND_MASK;
                busMaster.status |= BusMasterDma.STATUS_ACTIVE;
                startDmaIfReady();
                return;
            }
        }
        busMaster.command = value & BusMasterDma.COMMAND_MASK;
    }

    /** START cleared (or a reset): the transfer the selected drive waits for is dropped, ACTIVE clears. */
    private void stopBusMaster() {
        busMaster.status &= ~BusMasterDma.STATUS_ACTIVE;
        busMaster.command &= ~BusMasterDma.COMMAND_START;
        IdeDrive d = drives[selected];
        if (d != null && d.dmaRequest() != DmaRequest.NONE) {
            d.cancelDma();
        }
    }

    private void startDmaIfReady() {
        IdeDrive d = drives[selected];
        if (d == null || !busMaster.started() || !busMaster.active() || d.dmaRequest() == DmaRequest.NONE) {
            return;
        }
        DmaOutcome outcome;
        if (!busMasterEnabled.getAsBoolean()) {
            d.cancelDma();
            d.fail(Ata.ABRT);
            outcome = DmaOutcome.BUS_ERROR;
        } else {
            prd.start(dma, busMaster.prdAddress & 0xFFFF_FFFFL);
            outcome = d.runDma(prd);
        }
        if (!outcome.staysActive) {
            busMaster.status &= ~BusMasterDma.STATUS_ACTIVE;
        }
        if (outcome.busError) {
            busMaster.status |= BusMasterDma.STATUS_ERROR;
        }
    }

    // ---- reset and state ------------------------------------------------------------------------

    /** A hardware reset: registers, bus master and drives to their power-on state, interrupt low. */
    public synchronized void reset() {
        control = 0;
        selected = 0;
        busMaster.reset();
        for (IdeDrive d : drives) {
            if (d != null) {
                d.powerOn();
            }
        }
        lowerInterrupt();
    }

    public synchronized IdeChannelState save() {
        return new IdeChannelState(control, selected, interruptPending, busMaster.command, busMaster.status,
            busMaster.prdAddress, Optional.ofNullable(drives[0]).map(IdeDrive::save),
            Optional.ofNullable(drives[1]).map(IdeDrive::save));
    }

    public synchronized void restore(IdeChannelState s) throws DeviceStateException {
        DeviceStateException.checkBits(name, "device control", s.deviceControl(),
            Ata.CONTROL_HOB | Ata.CONTROL_SRST | Ata.CONTROL_NIEN);
        DeviceStateException.checkRange(name, "selected drive", s.selected(), 0, 1);
        DeviceStateException.checkBits(name, "bus master command", s.bmCommand(), BusMasterDma.COMMAND_MASK);
        DeviceStateException.checkBits(name, "bus master status", s.bmStatus(), 0x67);
        DeviceStateException.checkBits(name, "PRD table address", s.bmPrdAddress() & 0xFFFF_FFFFL, 0xFFFF_FFFCL);
        for (int u = 0; u < 2; u++) {
            Optional<IdeDriveState> ds = u == 0 ? s.master() : s.slave();
            if (ds.isPresent() != (drives[u] != null)) {
                throw new DeviceStateException(name + ": the state " + (ds.isPresent() ? "has" : "has no") + " drive at unit "
                    + u + " but this channel " + (drives[u] != null ? "has one" : "has none"));
            }
            if (ds.isPresent()) {
                drives[u].restore(name + "." + u, ds.get());
            }
        }
        control = s.deviceControl();
        selected = s.selected();
        busMaster.command = s.bmCommand();
        busMaster.status = s.bmStatus();
        busMaster.prdAddress = s.bmPrdAddress();
        interruptPending = s.interruptPending();
        lineLevel = !interruptPending; // drive the line to the saved level
        driveLine();
    }
}
