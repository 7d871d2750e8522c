package org.jvisor.devices.ahci;

import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

import org.jvisor.devices.ide.AtaDisk;
import org.jvisor.devices.ide.DmaOutcome;
import org.jvisor.devices.ide.DmaRequest;
import org.jvisor.devices.ide.IdeDrive;
import org.jvisor.devices.ide.IdeDriveState;
import org.jvisor.devices.ide.PioPhase;
import org.jvisor.devices.ide.TaskfileState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.GuestMemoryException;

/**
 * One AHCI port (AHCI 1.3.1, 3.3 and 5.x) with at most one device, an {@link IdeDrive}.
 *
 * <p>Command processing: once PxCMD.ST is set, a write to PxCI issues commands; each runs to its
 * end at once, on the writing thread, in slot order: the command header (4.2.2) names the command
 * table, whose Register H2D FIS loads the drive's registers and issues the command; a PACKET
 * command gets the table's ACMD as its packet; the drive's PIO blocks and DMA move through the
 * table's PRDT; the header's PRDBC receives the bytes moved; a PIO Setup FIS (data-in) and a
 * Register D2H FIS go to the received-FIS area (when PxCMD.FRE is set), PxTFD takes the ending
 * status and PxIS the interrupts (PSS, DHRS). A command ending with ERR sets TFES and halts the
 * port with its PxCI bit still set until software clears ST (6.2.2), as Linux's error handler
 * expects.
 *
 * <p>Guest mistakes end in an ATA error or a stopped port with a log line, never in an exception:
 * a command list or command table outside RAM sets HBFS and halts the port; a PRDT outside RAM or
 * shorter than the command's data aborts the command (ABRT, TFES); a FIS that is not a Register
 * H2D FIS is refused the same way; ST without FRE is refused (ST stays clear). Behind an IOMMU,
 * "outside RAM" includes a bus address the IOMMU refused (it records the fault for the guest).
 *
 * <p>The {@link AhciHba} serialises every call under its lock.
 */
final class AhciPort {
    private static final int MAX_LOGGED = 10;
    /** Where a DMA that failed went: behind an IOMMU, a bus address it refused fails the same way. */
    private static final String UNREACHABLE = "outside RAM (or refused by the IOMMU)";

    private final int index;
    private final DmaSpace dma;
    private final IntConsumer interrupts;
    private final Consumer<String> log;
    private final String name;
    private final Fis fis = new Fis();
    private final AhciPrdt prdt = new AhciPrdt();
    private final byte[] packet = new byte[16];
    private IdeDrive drive;
    private int logged;

    // Registers (AHCI 1.3.1, 3.3)
    private long commandList;
    private long fisBase;
    private int interruptStatus;
    private int interruptEnable;
    private int command;
    private int taskFile;
    private int signature;
    private int sataStatus;
    private int sataControl;
    private int sataError;
    private int sataActive;
    private int commandsIssued;
    /** A task file or host bus error stopped processing; cleared with ST. */
    private boolean halted;

    /**
     * @param interrupts told the port's number whenever the port sets PxIS bits
     * @param log        where guest mistakes are reported (the first few times)
     */
    AhciPort(String controller, int index, DmaSpace dma, IntConsumer interrupts, Consumer<String> log) {
        this.index = index;
        this.dma = dma;
        this.interrupts = interrupts;
        this.log = log;
        this.name = controller + " port " + index;
        reset();
    }

    /** Takes {@code d}; {@code guard} is the HBA's lock, held around every call into it. */
    void attach(IdeDrive d, Object guard) {
        if (drive != null) {
            throw new IllegalArgumentException(name + " has a device already");
        }
        drive = d;
        d.attachToPort(() -> { }, guard);
        if (d instanceof AtaDisk disk) {
            disk.offerQueuing(Ahci.COMMAND_SLOTS);
        }
        reset();
    }

    IdeDrive drive() {
        return drive;
    }

    /** The port's interrupt condition: an enabled PxIS bit is set. */
    boolean interruptPending() {
        return (interruptStatus & interruptEnable) != 0;
    }

    // ---- reset ------------------------------------------------------------------------------------

    /** An HBA reset (GHC.HR) or power-on: registers to their reset values, the device COMRESET. */
    void reset() {
        commandList = 0;
        fisBase = 0;
        interruptStatus = 0;
        interruptEnable = 0;
        command = Ahci.CMD_SUD | Ahci.CMD_POD;
        sataControl = 0;
        sataError = 0;
        sataActive = 0;
        commandsIssued = 0;
        halted = false;
        comReset();
    }

    /**
     * COMRESET (PxSCTL.DET 1 then 0): the device resets and sends its signature in a Register D2H
     * FIS (AHCI 1.3.1, 10.4.2), which sets PxSIG and PxTFD; without a device the link stays down.
     */
    private void comReset() {
        if (drive == null) {
            sataStatus = 0;
            signature = 0xFFFF_FFFF;
            taskFile = 0x7F;
            return;
        }
        drive.comReset();
        sataStatus = Ahci.SSTS_DEVICE_UP;
        TaskfileState r = drive.registers();
        signature = r.lbaHigh() << 24 | r.lbaMid() << 16 | r.lbaLow() << 8 | r.count();
        postD2h(false);
    }

    // ---- registers --------------------------------------------------------------------------------

    int read(PortRegister r) {
        return switch (r) {
            case CLB -> (int) commandList;
            case CLBU -> (int) (commandList >>> 32);
            case FB -> (int) fisBase;
            case FBU -> (int) (fisBase >>> 32);
            case IS -> interruptStatus;
            case IE -> interruptEnable;
            case CMD -> command;
            case TFD -> taskFile;
            case SIG -> signature;
            case SSTS -> sataStatus;
            case SCTL -> sataControl;
            case SERR -> sataError;
            case SACT -> sataActive;
            case CI -> commandsIssued;
            case SNTF, FBS -> 0;
        };
    }

    void write(PortRegister r, int value) {
        switch (r) {
            case CLB -> commandList = commandList & ~0xFFFF_FFFFL | value & 0xFFFF_FC00L;
            case CLBU -> commandList = commandList & 0xFFFF_FFFFL | (long) value << 32;
            case FB -> fisBase = fisBase & ~0xFFFF_FFFFL | value & 0xFFFF_FF00L;
            case FBU -> fisBase = fisBase & 0xFFFF_FFFFL | (long) value << 32;
            case IS -> interruptStatus &= ~value;
            case IE -> interruptEnable = value & Ahci.IS_MASK;
            case CMD -> writeCommand(value);
            case SCTL -> writeSataControl(value);
            case SERR -> sataError &= ~value;
            case SACT -> {
                if ((command & Ahci.CMD_ST) != 0) {
                    sataActive |= value;
                }
            }
            case CI -> {
                if ((command & Ahci.CMD_ST) != 0) {
                    commandsIssued |= value;
                    processCommands();
                }
            }
            case TFD, SIG, SSTS, SNTF, FBS -> { }
        }
    }

    /** PxCMD (3.3.7): FR follows FRE and CR follows ST at once; CLO clears BSY and DRQ and itself. */
    private void writeCommand(int value) {
        int old = command;
        int v = value & Ahci.CMD_WRITABLE;
        if ((v & Ahci.CMD_ST) != 0 && (v & Ahci.CMD_FRE) == 0 && (old & Ahci.CMD_ST) == 0) {
            warn("ST set without FRE (AHCI 1.3.1, 10.3.1): the port stays stopped");
            v &= ~Ahci.CMD_ST;
        }
        if ((value & Ahci.CMD_CLO) != 0) {
            taskFile &= ~(Ahci.ATA_BSY | Ahci.ATA_DRQ);
        }
        command = old & Ahci.CMD_CCS_MASK | v;
        if ((v & Ahci.CMD_FRE) != 0) {
            command |= Ahci.CMD_FR;
        }
        boolean start = (v & Ahci.CMD_ST) != 0;
        if (start) {
            command |= Ahci.CMD_CR;
            if ((old & Ahci.CMD_ST) == 0) {
                command &= ~Ahci.CMD_CCS_MASK;
                halted = false;
            }
        } else if ((old & Ahci.CMD_ST) != 0) {
            // ST 1 -> 0: the list is dropped, PxCI and PxSACT clear (3.3.14, 3.3.13)
            commandsIssued = 0;
            sataActive = 0;
            halted = false;
        }
    }

    /** PxSCTL (3.3.11): DET=1 holds the link in COMRESET; back to 0 the device comes up. */
    private void writeSataControl(int value) {
        int oldDet = sataControl & Ahci.SCTL_DET_MASK;
        sataControl = value;
        int det = value & Ahci.SCTL_DET_MASK;
        if (det == Ahci.SCTL_DET_COMRESET) {
            sataStatus = 0;
        } else if (oldDet == Ahci.SCTL_DET_COMRESET && det == 0) {
            comReset();
        }
    }

    // ---- command processing (AHCI 1.3.1, 5.3) -----------------------------------------------------

    private void processCommands() {
        while (commandsIssued != 0 && !halted && drive != null) {
            int slot = Integer.numberOfTrailingZeros(commandsIssued);
            command = command & ~Ahci.CMD_CCS_MASK | slot << Ahci.CMD_CCS_SHIFT;
            if (runSlot(slot)) {
                commandsIssued &= ~(1 << slot);
            }
        }
    }

    /** Runs the command in {@code slot}; false when it failed and the port halted (PxCI bit stays). */
    private boolean runSlot(int slot) {
        long header = commandList + (long) slot * Ahci.HEADER_SIZE;
        int dw0;
        long table;
        try {
            dw0 = dma.readU32(header);
            table = dma.readU64(header + 8) & Ahci.TABLE_ALIGN_MASK;
            dma.read(table, fis.h2d, 0, Fis.H2D_LENGTH);
        } catch (GuestMemoryException e) {
            warn(String.format("command list at %#x or its command table is %s: host bus fatal error, port stopped",
                commandList, UNREACHABLE));
            halted = true;
            raise(Ahci.IS_HBFS);
            return false;
        }
        if (fis.h2dType() != Fis.TYPE_REGISTER_H2D || (dw0 & Ahci.HEADER_CFL_MASK) < 5) {
            warn(String.format("slot %d: FIS type %#x of length %d dwords is not a Register H2D FIS: command aborted",
                slot, fis.h2dType(), dw0 & Ahci.HEADER_CFL_MASK));
            return failCommand(Ahci.ATA_DRDY | Ahci.ATA_ERR, Ahci.ATA_ABRT);
        }
        if (!fis.h2dIsCommand()) {
            deviceControl();
            return true;
        }
        int entries = dw0 >>> 16;
        prdt.start(dma, table + Ahci.TABLE_PRDT, entries);
        int opcode = fis.h2dCommand();
        if ((opcode == Ahci.READ_FPDMA_QUEUED || opcode == Ahci.WRITE_FPDMA_QUEUED) && drive instanceof AtaDisk disk) {
            return runQueued(slot, disk, opcode == Ahci.WRITE_FPDMA_QUEUED, header, entries);
        }
        boolean dataIn = false;
        int pioBytes = 0;
        drive.issue(fis.h2dRegisters(), fis.h2dCommand());
        int pioStatus = drive.status();
        try {
            if (drive.pioPhase() == PioPhase.PACKET) {
                dma.read(table + Ahci.TABLE_ACMD, packet, 0, packet.length);
                drive.sendPacket(packet);
                pioStatus = drive.status();
            }
            while (true) {
                PioPhase p = drive.pioPhase();
                if (p == PioPhase.IN || p == PioPhase.OUT) {
                    dataIn |= p == PioPhase.IN;
                    pioBytes = drive.pioBlockLeft();
                    if (!drive.transferPio(prdt)) {
                        warn(String.format("slot %d: the PRDT (%d entries) is shorter than the command's data: command aborted",
                            slot, entries));
                        drive.abortCommand();
                        break;
                    }
                } else if (drive.pendingDma() != DmaRequest.NONE) {
                    DmaOutcome o = drive.transferDma(prdt);
                    if (o == DmaOutcome.TABLE_TOO_SHORT) {
                        warn(String.format("slot %d: the PRDT (%d entries) is shorter than the command's data: command aborted",
                            slot, entries));
                        drive.abortCommand();
                    } else if (o == DmaOutcome.BUS_ERROR) {
                        warn(String.format("slot %d: the PRDT at %#x names memory %s: command aborted",
                            slot, table + Ahci.TABLE_PRDT, UNREACHABLE));
                    }
                    break;
                } else {
                    break;
                }
            }
        } catch (GuestMemoryException e) {
            warn(String.format("slot %d: the command table at %#x or its PRDT names memory %s: command aborted",
                slot, table, UNREACHABLE));
            drive.abortCommand();
        }
        try {
            dma.writeU32(header + 4, (int) prdt.moved());
        } catch (GuestMemoryException e) {
            // the header was readable a moment ago: only a racing remap gets here; nothing to report to
        }
        int status = drive.status();
        taskFile = drive.error() << 8 | status;
        if (dataIn) {
            // Linux takes a PIO data-in command's result from the PIO Setup FIS (E_Status)
            postFis(Ahci.RX_PIO_SETUP, fis.pioSetup(pioStatus | Ahci.ATA_DRQ, drive.error(), drive.registers(), status,
                pioBytes), Fis.PIO_SETUP_LENGTH);
            raise(Ahci.IS_PSS);
        }
        postD2h(true);
        if ((status & Ahci.ATA_ERR) != 0) {
            halted = true;
            raise(Ahci.IS_DHRS | Ahci.IS_TFES);
            return false;
        }
        raise(Ahci.IS_DHRS);
        return true;
    }

    /**
     * READ/WRITE FPDMA QUEUED (AHCI 1.3.1, 5.3.x; SATA 3.x 13.6): the tag in the count register's
     * bits 7:3, the sector count in the features registers. The command runs to its end at once and
     * completes with a Set Device Bits FIS clearing its PxSACT bit (SDBS); an error ends it with a
     * Register D2H FIS and TFES, its PxSACT bit still set, as a failed DMA command.
     */
    private boolean runQueued(int slot, AtaDisk disk, boolean write, long header, int entries) {
        TaskfileState r = fis.h2dRegisters();
        int tag = r.count() >>> 3;
        int count = r.hobFeature() << 8 | r.feature();
        long lba = (long) r.hobLbaHigh() << 40 | (long) r.hobLbaMid() << 32 | (long) r.hobLbaLow() << 24
            | (long) r.lbaHigh() << 16 | (long) r.lbaMid() << 8 | r.lbaLow();
        DmaOutcome o = disk.queued(write, lba, count == 0 ? 65536 : count, prdt);
        if (o == DmaOutcome.TABLE_TOO_SHORT) {
            warn(String.format("slot %d: the PRDT (%d entries) is shorter than the command's data: command aborted",
                slot, entries));
            disk.abortCommand();
        } else if (o == DmaOutcome.BUS_ERROR) {
            warn(String.format("slot %d: the PRDT names memory %s: command aborted", slot, UNREACHABLE));
        }
        try {
            dma.writeU32(header + 4, (int) prdt.moved());
        } catch (GuestMemoryException e) {
            // readable a moment ago: only a racing remap gets here
        }
        int status = disk.status();
        taskFile = disk.error() << 8 | status;
        if ((status & Ahci.ATA_ERR) != 0) {
            postD2h(true);
            halted = true;
            raise(Ahci.IS_DHRS | Ahci.IS_TFES);
            return false;
        }
        sataActive &= ~(1 << tag);
        postFis(Ahci.RX_SDB, fis.setDeviceBits(status, disk.error(), 1 << tag), Fis.SET_DEVICE_BITS_LENGTH);
        raise(Ahci.IS_SDBS);
        return true;
    }

    /** A Register H2D FIS without C: the device control register; SRST resets the device. */
    private void deviceControl() {
        if ((fis.h2dControl() & Ahci.ATA_SRST) != 0) {
            drive.controlReset();
            taskFile = Ahci.ATA_BSY;
            return;
        }
        // SRST released: the device reports its signature (ATA/ATAPI-6, 9.12)
        TaskfileState r = drive.registers();
        signature = r.lbaHigh() << 24 | r.lbaMid() << 16 | r.lbaLow() << 8 | r.count();
        postD2h(true);
        raise(Ahci.IS_DHRS);
    }

    /** A command the port refused: the device's status as given, TFES, the port halted. */
    private boolean failCommand(int status, int error) {
        taskFile = error << 8 | status;
        halted = true;
        raise(Ahci.IS_TFES);
        return false;
    }

    /** PxTFD from the device and its Register D2H FIS to the received-FIS area. */
    private void postD2h(boolean interrupt) {
        taskFile = drive.error() << 8 | drive.status();
        postFis(Ahci.RX_D2H, fis.d2h(drive.status(), drive.error(), drive.registers(), interrupt), Fis.D2H_LENGTH);
    }

    /** Writes a received FIS at {@code offset} of the FIS area; only while FIS receive is enabled (3.3.7 FRE). */
    private void postFis(int offset, byte[] frame, int length) {
        if ((command & Ahci.CMD_FRE) == 0) {
            return;
        }
        try {
            dma.write(fisBase + offset, frame, 0, length);
        } catch (GuestMemoryException e) {
            warn(String.format("the received-FIS area at %#x is not in RAM: FIS dropped", fisBase));
        }
    }

    private void raise(int bits) {
        interruptStatus |= bits;
        interrupts.accept(index);
    }

    private void warn(String message) {
        if (logged < MAX_LOGGED) {
            logged++;
            log.accept(name + ": " + message);
        }
    }

    // ---- state ------------------------------------------------------------------------------------

    AhciPortState save() {
        return new AhciPortState(commandList, fisBase, interruptStatus, interruptEnable, command, taskFile, signature,
            sataStatus, sataControl, sataError, sataActive, commandsIssued, halted,
            drive == null ? Optional.empty() : Optional.of(drive.saveState()));
    }

    void restore(AhciPortState s) throws DeviceStateException {
        if (s.drive().isPresent() != (drive != null)) {
            throw new DeviceStateException(name + ": the state " + (s.drive().isPresent() ? "has" : "has no")
                + " device but this port " + (drive != null ? "has one" : "has none"));
        }
        DeviceStateException.checkBits(name, "PxCLB", s.commandList(), ~0x3FFL);
        DeviceStateException.checkBits(name, "PxFB", s.fisBase(), ~0xFFL);
        DeviceStateException.checkBits(name, "PxIS", s.interruptStatus() & 0xFFFF_FFFFL, Ahci.IS_MASK & 0xFFFF_FFFFL);
        DeviceStateException.checkBits(name, "PxIE", s.interruptEnable() & 0xFFFF_FFFFL, Ahci.IS_MASK & 0xFFFF_FFFFL);
        DeviceStateException.checkBits(name, "PxCMD", s.command() & 0xFFFF_FFFFL,
            (Ahci.CMD_WRITABLE | Ahci.CMD_CCS_MASK | Ahci.CMD_FR | Ahci.CMD_CR) & 0xFFFF_FFFFL);
        DeviceStateException.checkRange(name, "PxTFD", s.taskFile(), 0, 0xFFFF);
        if (s.drive().isPresent()) {
            drive.restoreState(name, s.drive().get());
        }
        commandList = s.commandList();
        fisBase = s.fisBase();
        interruptStatus = s.interruptStatus();
        interruptEnable = s.interruptEnable();
        command = s.command();
        taskFile = s.taskFile();
        signature = s.signature();
        sataStatus = s.sataStatus();
        sataControl = s.sataControl();
        sataError = s.sataError();
        sataActive = s.sataActive();
        commandsIssued = s.commandsIssued();
        halted = s.halted();
    }
}
