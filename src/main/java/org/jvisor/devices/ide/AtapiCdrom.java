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
 * An ATAPI CD-ROM (QEMU's ide-cd) with a read-only medium on a {@link BlockBackend}: the PACKET
 * protocol (ATA/ATAPI-6, 9.10-9.11) with PIO data-in in DRQ blocks no larger than the host's byte
 * count limit, or DMA when PACKET's features ask for it; IDENTIFY PACKET DEVICE, DEVICE RESET,
 * EXECUTE DEVICE DIAGNOSTIC, SET FEATURES. The packets themselves are {@link MmcResponder}'s. As
 * the ATAPI specification asks, DRDY stays clear after a reset, IDENTIFY DEVICE aborts with the
 * packet signature, and the sector count register carries the interrupt reason (CoD, IO).
 */
public final class AtapiCdrom extends IdeDrive {
    static final int PACKET_SIZE = 12;
    /** The largest DRQ block: a byte count limit of 0xFFFF means 0xFFFE (it must be even). */
    static final int MAX_BLOCK = 0xFFFE;
    static final int REASON_COD = 0x01;
    static final int REASON_IO = 0x02;
    static final int DMA_CHUNK = 64 * 1024;

    private final BlockBackend backend;
    private final MmcResponder mmc;
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
    private AtapiSource source = AtapiSource.NONE;
    private long offset;
    private long bytesLeft;
    private int byteLimit;
    private int replyLength;
    private boolean dmaAsked;
    private DmaRequest dma = DmaRequest.NONE;
    private int transferMode;

    /** @param serialNumber the drive's position from 1 (QEMU's serial "QM0000n") */
    public AtapiCdrom(BlockBackend backend, int serialNumber, Consumer<String> log) {
        this(backend, serialNumber, log, new BlockStats());
    }

    /** As the other constructor, counting every read of the medium into {@code stats}. */
    public AtapiCdrom(BlockBackend backend, int serialNumber, Consumer<String> log, BlockStats stats) {
        super(MAX_BLOCK + 2);
        this.stats = stats;
        this.backend = backend;
        this.mmc = new MmcResponder(backend.size() / MmcResponder.BLOCK_SIZE);
        this.serial = IdentifyData.serial(serialNumber);
        this.log = log;
        this.pioView = ByteBuffer.wrap(buffer);
        powerOn();
    }

    @Override
    public IdeMedia media() {
        return IdeMedia.CDROM;
    }

    @Override
    void powerOn() {
        taskfile.clear(unit);
        transferMode = IdentifyData.DEFAULT_TRANSFER_MODE;
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

    /** Executes the packet just received. */
    private void packet() {
        MmcResponder.Outcome o = mmc.execute(cdb, reply, senseKey, asc);
        if (!(o instanceof MmcResponder.Check)) {
            // REQUEST SENSE reported it; any other command that succeeds starts afresh too
            senseKey = 0;
            asc = 0;
        }
        switch (o) {
            case MmcResponder.Good g -> good();
            case MmcResponder.Check c -> checkCondition(c.senseKey(), c.asc());
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
                checkCondition(Sense.MEDIUM_ERROR, Sense.ASC_UNRECOVERED_READ_ERROR);
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
    private void checkCondition(int key, int code) {
        resetTransfer();
        senseKey = key;
        asc = code;
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
            checkCondition(Sense.ILLEGAL_REQUEST, Sense.ASC_INVALID_FIELD_IN_CDB);
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
                checkCondition(Sense.ILLEGAL_REQUEST, Sense.ASC_INVALID_FIELD_IN_CDB);
                return DmaOutcome.BUS_ERROR;
            }
        }
        good();
        return described > total ? DmaOutcome.COMPLETE_TABLE_LONGER : DmaOutcome.COMPLETE;
    }

    // ---- state ----------------------------------------------------------------------------------

    @Override
    IdeDriveState save() {
        AtapiState a = new AtapiState(senseKey, asc, source, offset, bytesLeft, byteLimit,
            Bytes.copyOf(reply, 0, replyLength), dmaAsked);
        return new IdeDriveState(IdeMedia.CDROM, backend.size() / Ata.SECTOR_SIZE, taskfile.save(), status, error, phase,
            savedBuffer(), position, 0, 0, 0, false, dma, 0, transferMode, false, Optional.of(a));
    }

    @Override
    void restore(String where, IdeDriveState s) throws DeviceStateException {
        long sectors = backend.size() / Ata.SECTOR_SIZE;
        if (s.media() != IdeMedia.CDROM || s.atapi().isEmpty()) {
            throw new DeviceStateException(where + ": the state is a " + s.media() + "'s, this drive is a CD-ROM");
        }
        if (s.sectors() != sectors) {
            throw new DeviceStateException(where + ": the medium had " + s.sectors() + " sectors, this image has " + sectors);
        }
        AtapiState a = s.atapi().get();
        DeviceStateException.checkRange(where, "status", s.status(), 0, 0xFF);
        DeviceStateException.checkRange(where, "error", s.error(), 0, 0xFF);
        DeviceStateException.checkRange(where, "sense key", a.senseKey(), 0, 0xF);
        DeviceStateException.checkRange(where, "ASC", a.asc(), 0, 0xFF);
        DeviceStateException.checkRange(where, "byte count limit", a.byteLimit(), 0, 0xFFFF);
        DeviceStateException.checkRange(where, "reply length", a.reply().length(), 0, reply.length);
        long end = a.source() == AtapiSource.REPLY ? a.reply().length() : a.source() == AtapiSource.MEDIUM ? backend.size() : 0;
        DeviceStateException.checkRange(where, "data offset", a.offset(), 0, end);
        DeviceStateException.checkRange(where, "bytes left", a.bytesLeft(), 0, end - a.offset());
        if (s.phase() == PioPhase.OUT || (s.phase() == PioPhase.PACKET && s.data().length() != PACKET_SIZE)) {
            throw new DeviceStateException(where + ": a CD-ROM has no " + s.phase() + " phase of " + s.data().length() + " bytes");
        }
        if (!IdentifyData.validTransferMode(s.transferMode()) || s.dma() == DmaRequest.FROM_MEMORY) {
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
        source = a.source();
        offset = a.offset();
        bytesLeft = a.bytesLeft();
        byteLimit = a.byteLimit();
        a.reply().copyTo(reply, 0);
        replyLength = a.reply().length();
        dmaAsked = a.dma();
    }
}
