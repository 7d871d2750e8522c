package org.jvisor.devices.ide;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.function.Consumer;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.virtio.BlockStats;
import org.jvisor.memory.GuestMemoryException;

/**
 * An ATAPI CD-ROM (QEMU's ide-cd) with a removable, read-only medium on a {@link BlockBackend}: the PACKET
 * protocol (ATA/ATAPI-6, 9.10-9.11) with PIO data-in in DRQ blocks no larger than the host's byte
 * count limit, or DMA when PACKET's features ask for it; IDENTIFY PACKET DEVICE, DEVICE RESET,
 * EXECUTE DEVICE DIAGNOSTIC, SET FEATURES. The packets themselves are {@link MmcResponder}'s. As
 * the ATAPI specification asks, DRDY stays clear after a reset, IDENTIFY DEVICE aborts with the
 * packet signature, and the sector count register carries the interrupt reason (CoD, IO).
 *
 * <p>The medium sits in a tray ({@link CdromTray}) the guest opens and closes with START STOP
 * UNIT and locks with PREVENT ALLOW MEDIUM REMOVAL, and the host changes with the methods of
 * "the host's side" below, which are QEMU's block-device callbacks (hw/ide/core.c
 * ide_cd_change_cb, ide_cd_eject_request_cb): the guest then sees NOT READY without a medium,
 * the change once (NOT READY, then UNIT ATTENTION 28h) and the media events of GET EVENT STATUS
 * NOTIFICATION. The host's methods take the controller's lock ({@link #guard()}).
 */
public final class AtapiCdrom extends IdeDrive {
    static final int PACKET_SIZE = 12;
    /** The largest DRQ block: a byte count limit of 0xFFFF means 0xFFFE (it must be even). */
    static final int MAX_BLOCK = 0xFFFE;
    static final int REASON_COD = 0x01;
    static final int REASON_IO = 0x02;
    static final int DMA_CHUNK = 64 * 1024;
    private static final int SECTORS_PER_BLOCK = MmcResponder.BLOCK_SIZE / Ata.SECTOR_SIZE;

    /** The medium in the drive (in or out of the tray), null when there is none. */
    private BlockBackend backend;
    private final CdromTray tray = new CdromTray();
    private final MmcResponder mmc;
    private volatile Consumer<Boolean> trayMoved = open -> { };
    private final String serial;
    private final Consumer<String> log;
    private final BlockStats stats;
    private final byte[] cdb = new byte[PACKET_SIZE];
    private final byte[] reply = new byte[4096];
    private final ByteBuffer pioView;
    private final byte[] dmaBuffer = new byte[DMA_CHUNK];
    private final ByteBuffer dmaView = ByteBuffer.wrap(dmaBuffer);
    private int loggedErrors;

    private int senseKey;
    private int asc;
    private int ascq;
    private AtapiSource source = AtapiSource.NONE;
    private long offset;
    private long bytesLeft;
    private int byteLimit;
    private int replyLength;
    private boolean dmaAsked;
    private DmaRequest dma = DmaRequest.NONE;
    private int transferMode;

    /**
     * @param backend      the medium, or null for an empty drive
     * @param serialNumber the drive's position from 1 (QEMU's serial "QM0000n")
     */
    public AtapiCdrom(BlockBackend backend, int serialNumber, Consumer<String> log) {
        this(backend, serialNumber, log, new BlockStats());
    }

    /** As the other constructor, counting every read of the medium into {@code stats}. */
    public AtapiCdrom(BlockBackend backend, int serialNumber, Consumer<String> log, BlockStats stats) {
        super(MAX_BLOCK + 2);
        this.stats = stats;
        this.backend = backend;
        this.mmc = new MmcResponder(blocksOf(backend), tray);
        this.serial = IdentifyData.serial(serialNumber);
        this.log = log;
        this.pioView = ByteBuffer.wrap(buffer);
        powerOn();
    }

    @Override
    public IdeMedia media() {
        return IdeMedia.CDROM;
    }

    private static long blocksOf(BlockBackend medium) {
        return medium == null ? 0 : medium.size() / MmcResponder.BLOCK_SIZE;
    }

    /** The power-on reset also unlocks the tray (SPC-4, 6.13: a reset allows removal); the medium stays. */
    @Override
    void powerOn() {
        taskfile.clear(unit);
        transferMode = IdentifyData.DEFAULT_TRANSFER_MODE;
        tray.locked = false;
        resetDevice();
    }

    @Override
    void softReset() {
        resetDevice();
    }

    /** Reset and DEVICE RESET: transfer and sense dropped, the packet signature, DRDY clear. */
    private void resetDevice() {
        resetTransfer();
        senseKey = 0;
        asc = 0;
        ascq = 0;
        taskfile.signature(true);
        status = 0;
        error = Ata.DIAGNOSTIC_PASSED;
    }

    private void resetTransfer() {
        stopPio();
        source = AtapiSource.NONE;
        offset = 0;
        bytesLeft = 0;
        replyLength = 0;
        dma = DmaRequest.NONE;
    }

    @Override
    void execute(int opcode) {
        AtaCommand cmd = AtaCommand.of(opcode);
        resetTransfer();
        error = 0;
        if (cmd == null) {
            abort();
            return;
        }
        switch (cmd) {
            case PACKET -> {
                dmaAsked = (taskfile.feature & 1) != 0;
                byteLimit = taskfile.lbaMid | taskfile.lbaHigh << 8;
                taskfile.count = REASON_COD;
                status = Ata.READY;
                startPio(PioPhase.PACKET, PACKET_SIZE); // DRQ within 50 µs, no interrupt (IDENTIFY word 0)
            }
            case IDENTIFY_PACKET_DEVICE -> {
                IdentifyData.cdrom(buffer, serial, transferMode);
                status = Ata.READY;
                startPio(PioPhase.IN, Ata.SECTOR_SIZE);
                raiseInterrupt();
            }
            case IDENTIFY_DEVICE -> {
                taskfile.signature(true);
                abort();
            }
            case DEVICE_RESET -> resetDevice();
            case EXECUTE_DEVICE_DIAGNOSTIC -> {
                resetDevice();
                raiseInterrupt();
            }
            case SET_FEATURES -> {
                if (taskfile.feature == 0x03) {
                    if (!IdentifyData.validTransferMode(taskfile.count)) {
                        abort();
                        return;
                    }
                    transferMode = taskfile.count;
                }
                complete();
            }
            case CHECK_POWER_MODE, CHECK_POWER_MODE_OLD -> {
                taskfile.count = 0xFF;
                complete();
            }
            case IDLE, IDLE_IMMEDIATE, STANDBY, STANDBY_IMMEDIATE, IDLE_OLD, IDLE_IMMEDIATE_OLD, STANDBY_OLD,
                 STANDBY_IMMEDIATE_OLD, SEEK, RECALIBRATE -> complete();
            default -> abort();
        }
    }

    @Override
    void pioDone() {
        if (phase == PioPhase.PACKET) {
            System.arraycopy(buffer, 0, cdb, 0, PACKET_SIZE);
            stopPio();
            packet();
        } else if (bytesLeft > 0) {
            nextBlock();
        } else {
            good();
        }
    }

    /**
     * Executes the packet just received, after the conditions that come before any command, in
     * QEMU's order (hw/ide/atapi.c ide_atapi_cmd): a pending UNIT ATTENTION, a medium change not
     * yet reported, a command that needs a medium without one.
     */
    private void packet() {
        MmcCommand c = MmcCommand.of(cdb[0]);
        boolean allowsUnitAttention = c != null && c.allowsUnitAttention;
        if (senseKey == Sense.UNIT_ATTENTION && !allowsUnitAttention) {
            unitAttentionPending();
            return;
        }
        if (!allowsUnitAttention && !tray.open && backend != null && tray.change != MediaChange.NONE) {
            if (tray.change == MediaChange.REPORT_REMOVAL) {
                tray.change = MediaChange.REPORT_NEW_MEDIUM;
                checkCondition(Sense.NOT_READY, Sense.ASC_MEDIUM_NOT_PRESENT, Sense.ASCQ_TRAY_CLOSED);
            } else {
                tray.change = MediaChange.NONE;
                checkCondition(Sense.UNIT_ATTENTION, Sense.ASC_NOT_READY_TO_READY_CHANGE, 0);
            }
            return;
        }
        if (c != null && c.needsMedium && (!mmc.mediumPresent() || backend == null)) {
            notReady();
            return;
        }
        if (c == MmcCommand.START_STOP_UNIT) {
            startStopUnit();
            return;
        }
        if (c == MmcCommand.PREVENT_ALLOW_MEDIUM_REMOVAL) {
            tray.locked = (cdb[4] & 1) != 0;
            clearSense();
            good();
            return;
        }
        MmcResponder.Outcome o = mmc.execute(cdb, reply, senseKey, asc, ascq, backend != null);
        if (!(o instanceof MmcResponder.Check) && (senseKey != Sense.UNIT_ATTENTION || c == MmcCommand.REQUEST_SENSE)) {
            // REQUEST SENSE reported it; any other command that succeeds starts afresh too, but a
            // UNIT ATTENTION stays until REQUEST SENSE reports it (SPC-4, 5.14)
            clearSense();
        }
        switch (o) {
            case MmcResponder.Good g -> good();
            case MmcResponder.Check k -> checkCondition(k.senseKey(), k.asc(), k.ascq());
            case MmcResponder.Reply r -> {
                source = AtapiSource.REPLY;
                offset = 0;
                replyLength = r.length();
                bytesLeft = r.length();
                startData();
            }
            case MmcResponder.ReadBlocks b -> {
                source = AtapiSource.MEDIUM;
                offset = b.lba() * MmcResponder.BLOCK_SIZE;
                bytesLeft = b.blocks() * MmcResponder.BLOCK_SIZE;
                startData();
            }
        }
    }

    private void clearSense() {
        senseKey = 0;
        asc = 0;
        ascq = 0;
    }

    /** NOT READY / MEDIUM NOT PRESENT, with the tray's position in the ASCQ (SPC-4 annex D). */
    private void notReady() {
        checkCondition(Sense.NOT_READY, Sense.ASC_MEDIUM_NOT_PRESENT, tray.open ? Sense.ASCQ_TRAY_OPEN : Sense.ASCQ_TRAY_CLOSED);
    }

    /**
     * START STOP UNIT (MMC-6, 6.39): with LoEj, Start 0 opens the tray and 1 closes it (refused
     * while the tray is locked); a power condition only completes. The guest moving the tray is
     * reported to the host (QEMU's DEVICE_TRAY_MOVED); the medium stays in the tray.
     */
    private void startStopUnit() {
        boolean start = (cdb[4] & 1) != 0;
        boolean loadEject = (cdb[4] & 2) != 0;
        if ((cdb[4] & 0xF0) == 0 && loadEject) {
            if (!start && !tray.open && tray.locked) {
                checkCondition(backend != null ? Sense.NOT_READY : Sense.ILLEGAL_REQUEST, Sense.ASC_MEDIUM_REMOVAL_PREVENTED,
                    Sense.ASCQ_REMOVAL_PREVENTED);
                return;
            }
            if (tray.open == start) {
                tray.open = !start;
                trayMoved.accept(tray.open);
            }
        }
        clearSense();
        good();
    }

    /**
     * A command while a UNIT ATTENTION waits for REQUEST SENSE: ERR with the sense key, DRDY clear
     * (QEMU's ide_atapi_cmd_check_status).
     */
    private void unitAttentionPending() {
        resetTransfer();
        status = Ata.ERR;
        error = Sense.UNIT_ATTENTION << 4 | Ata.MC;
        taskfile.count = 0;
        raiseInterrupt();
    }

    private void startData() {
        if (dmaAsked) {
            dma = DmaRequest.TO_MEMORY;
            status = Ata.READY | Ata.DRQ; // waiting for the bus master, as QEMU
            taskfile.count = REASON_IO;
        } else {
            nextBlock();
        }
    }

    /** Offers the next DRQ block of data-in: at most the byte count limit, even unless it is the last. */
    private void nextBlock() {
        int limit = byteLimit == 0 || byteLimit >= MAX_BLOCK ? MAX_BLOCK : byteLimit & ~1;
        if (limit == 0) {
            limit = 2;
        }
        int n = (int) Math.min(bytesLeft, limit);
        if (!fill(buffer, pioView, n)) {
            return;
        }
        taskfile.count = REASON_IO;
        taskfile.lbaMid = n & 0xFF;
        taskfile.lbaHigh = n >>> 8;
        status = Ata.READY;
        startPio(PioPhase.IN, n);
        raiseInterrupt();
    }

    /** Moves the next {@code n} bytes of the source into {@code to}; false (and CHECK CONDITION) when the image fails. */
    private boolean fill(byte[] to, ByteBuffer view, int n) {
        if (source == AtapiSource.MEDIUM && backend == null) {
            checkCondition(Sense.NOT_READY, Sense.ASC_MEDIUM_NOT_PRESENT, Sense.ASCQ_TRAY_OPEN); // taken out mid-command
            return false;
        }
        if (source == AtapiSource.REPLY) {
            System.arraycopy(reply, (int) offset, to, 0, n);
        } else {
            try {
                long start = System.nanoTime();
                view.clear().limit(n);
                backend.read(offset, view);
                stats.read(n, System.nanoTime() - start);
            } catch (IOException | RuntimeException e) {
                stats.failed();
                if (loggedErrors < 10) {
                    loggedErrors++;
                    log.accept("ide: " + backend.describe() + ": read failed at byte " + offset + ": " + e.getMessage());
                }
                checkCondition(Sense.MEDIUM_ERROR, Sense.ASC_UNRECOVERED_READ_ERROR, 0);
                return false;
            }
        }
        offset += n;
        bytesLeft -= n;
        return true;
    }

    /** The command completes: DRDY, interrupt reason "status" (CoD and IO). */
    private void good() {
        resetTransfer();
        error = 0;
        status = Ata.READY;
        taskfile.count = REASON_COD | REASON_IO;
        raiseInterrupt();
    }

    /** CHECK CONDITION: ERR with the sense key in the error register's high nibble (ATA/ATAPI-6, 9.11). */
    private void checkCondition(int key, int code, int qualifier) {
        resetTransfer();
        senseKey = key;
        asc = code;
        ascq = qualifier;
        status = Ata.DRDY | Ata.ERR;
        error = key << 4;
        taskfile.count = REASON_COD | REASON_IO;
        raiseInterrupt();
    }

    @Override
    DmaRequest dmaRequest() {
        return dma;
    }

    @Override
    void cancelDma() {
        resetTransfer();
        status &= ~Ata.DRQ;
    }

    @Override
    DmaOutcome runDma(DmaRegions prd) {
        dma = DmaRequest.NONE;
        long total = bytesLeft;
        long described;
        try {
            described = prd.describedBytes();
        } catch (GuestMemoryException e) {
            checkCondition(Sense.ILLEGAL_REQUEST, Sense.ASC_INVALID_FIELD_IN_CDB, 0);
            return DmaOutcome.BUS_ERROR;
        }
        if (described < total) {
            resetTransfer();
            status = Ata.READY;
            return DmaOutcome.TABLE_TOO_SHORT;
        }
        while (bytesLeft > 0) {
            int n = (int) Math.min(bytesLeft, DMA_CHUNK);
            if (!fill(dmaBuffer, dmaView, n)) {
                return DmaOutcome.DEVICE_ERROR;
            }
            try {
                prd.transfer(dmaBuffer, 0, n, true);
            } catch (GuestMemoryException e) {
                checkCondition(Sense.ILLEGAL_REQUEST, Sense.ASC_INVALID_FIELD_IN_CDB, 0);
                return DmaOutcome.BUS_ERROR;
            }
        }
        good();
        return described > total ? DmaOutcome.COMPLETE_TABLE_LONGER : DmaOutcome.COMPLETE;
    }

    // ---- state ----------------------------------------------------------------------------------

    // ---- the host's side: the medium and the tray -----------------------------------------------

    /** The controller's lock: a host changing the medium holds it around its steps. */
    public Object mediaLock() {
        return guard();
    }

    /** Tells {@code listener} when the guest opens ({@code true}) or closes the tray. */
    public void onTrayMoved(Consumer<Boolean> listener) {
        this.trayMoved = listener;
    }

    /** Whether the tray is open. */
    public boolean trayOpen() {
        synchronized (guard()) {
            return tray.open;
        }
    }

    /** Whether the guest locked the tray (PREVENT ALLOW MEDIUM REMOVAL). */
    public boolean trayLocked() {
        synchronized (guard()) {
            return tray.locked;
        }
    }

    /** The medium in the drive, in or out of the closed tray; empty when there is none. */
    public Optional<BlockBackend> medium() {
        synchronized (guard()) {
            return Optional.ofNullable(backend);
        }
    }

    /**
     * The host asks for the medium (QEMU's ide_cd_eject_request_cb): an "eject request" media
     * event for the guest; {@code force} also unlocks the tray.
     */
    public void requestEject(boolean force) {
        synchronized (guard()) {
            tray.ejectRequest = true;
            if (force) {
                tray.locked = false;
            }
            raiseInterrupt();
        }
    }

    /**
     * The host moves the tray (QEMU's ide_cd_change_cb): closed with {@code load}, else open; the
     * guest is told of a medium change (the NOT READY / UNIT ATTENTION sequence and a "new media"
     * event) and sees the size of whatever medium the drive now holds.
     */
    public void moveTray(boolean load) {
        synchronized (guard()) {
            tray.open = !load;
            mmc.medium(blocksOf(backend));
            tray.change = MediaChange.REPORT_REMOVAL;
            tray.newMedia = true;
            tray.ejectRequest = false;
            raiseInterrupt();
        }
    }

    /**
     * Puts {@code medium} (null: nothing) into the open tray, returning what was there; the guest
     * learns of it when the tray closes ({@link #moveTray}).
     *
     * @throws IllegalStateException if the tray is closed
     */
    public BlockBackend replaceMedium(BlockBackend medium) {
        synchronized (guard()) {
            if (!tray.open) {
                throw new IllegalStateException("the tray is closed");
            }
            BlockBackend old = backend;
            backend = medium;
            return old;
        }
    }

    // ---- state ----------------------------------------------------------------------------------

    @Override
    IdeDriveState save() {
        AtapiState a = new AtapiState(senseKey, asc, ascq, source, offset, bytesLeft, byteLimit,
            Bytes.copyOf(reply, 0, replyLength), dmaAsked, tray.open, tray.locked, mmc.blocks(), tray.change,
            tray.newMedia, tray.ejectRequest);
        return new IdeDriveState(IdeMedia.CDROM, blocksOf(backend) * SECTORS_PER_BLOCK, taskfile.save(), status, error, phase,
            savedBuffer(), position, 0, 0, 0, false, dma, 0, transferMode, false, false, Optional.of(a),
            Optional.empty());
    }

    @Override
    void restore(String where, IdeDriveState s) throws DeviceStateException {
        long sectors = blocksOf(backend) * SECTORS_PER_BLOCK;
        if (s.media() != IdeMedia.CDROM || s.atapi().isEmpty()) {
            throw new DeviceStateException(where + ": the state is a " + s.media() + "'s, this drive is a CD-ROM");
        }
        if (s.sectors() != sectors) {
            throw new DeviceStateException(where + ": the medium had " + s.sectors() + " sectors, "
                + (backend == null ? "this drive is empty" : "this image has " + sectors));
        }
        AtapiState a = s.atapi().get();
        DeviceStateException.checkRange(where, "ASCQ", a.ascq(), 0, 0xFF);
        if (!a.trayOpen() && a.mediumBlocks() != blocksOf(backend)) {
            throw new DeviceStateException(where + ": the closed tray holds " + a.mediumBlocks() + " blocks, the medium has "
                + blocksOf(backend));
        }
        DeviceStateException.checkRange(where, "medium blocks", a.mediumBlocks(), 0, Long.MAX_VALUE);
        DeviceStateException.checkRange(where, "status", s.status(), 0, 0xFF);
        DeviceStateException.checkRange(where, "error", s.error(), 0, 0xFF);
        DeviceStateException.checkRange(where, "sense key", a.senseKey(), 0, 0xF);
        DeviceStateException.checkRange(where, "ASC", a.asc(), 0, 0xFF);
        DeviceStateException.checkRange(where, "byte count limit", a.byteLimit(), 0, 0xFFFF);
        DeviceStateException.checkRange(where, "reply length", a.reply().length(), 0, reply.length);
        long end = a.source() == AtapiSource.REPLY ? a.reply().length()
            : a.source() == AtapiSource.MEDIUM ? blocksOf(backend) * MmcResponder.BLOCK_SIZE : 0;
        DeviceStateException.checkRange(where, "data offset", a.offset(), 0, end);
        DeviceStateException.checkRange(where, "bytes left", a.bytesLeft(), 0, end - a.offset());
        if (s.phase() == PioPhase.OUT || (s.phase() == PioPhase.PACKET && s.data().length() != PACKET_SIZE)) {
            throw new DeviceStateException(where + ": a CD-ROM has no " + s.phase() + " phase of " + s.data().length() + " bytes");
        }
        if (!IdentifyData.validTransferMode(s.transferMode()) || s.dma() == DmaRequest.FROM_MEMORY
                || s.dma() == DmaRequest.TRIM_RANGES) {
            throw new DeviceStateException(where + ": transfer mode " + s.transferMode() + ", DMA " + s.dma());
        }
        restorePio(where, s.phase(), s.data(), s.position());
        taskfile.restore(s.taskfile());
        status = s.status();
        error = s.error();
        dma = s.dma();
        transferMode = s.transferMode();
        senseKey = a.senseKey();
        asc = a.asc();
        ascq = a.ascq();
        tray.open = a.trayOpen();
        tray.locked = a.locked();
        tray.change = a.change();
        tray.newMedia = a.newMedia();
        tray.ejectRequest = a.ejectRequest();
        mmc.medium(a.mediumBlocks());
        source = a.source();
        offset = a.offset();
        bytesLeft = a.bytesLeft();
        byteLimit = a.byteLimit();
        a.reply().copyTo(reply, 0);
        replyLength = a.reply().length();
        dmaAsked = a.dma();
    }
}
