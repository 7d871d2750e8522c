package org.jvisor.devices.ide;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.function.Consumer;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.virtio.BlockStats;
import org.jvisor.memory.GuestMemoryException;

/**
 * An ATA disk (QEMU's ide-hd) on a {@link BlockBackend}: IDENTIFY DEVICE, READ/WRITE SECTORS and
 * MULTIPLE (PIO, 28- and 48-bit), READ/WRITE DMA (EXT), READ VERIFY, FLUSH CACHE (EXT), SET
 * FEATURES (write cache, transfer mode), SET MULTIPLE MODE, INITIALIZE DEVICE PARAMETERS,
 * READ NATIVE MAX ADDRESS (EXT), the power-management no-ops, EXECUTE DEVICE DIAGNOSTIC; every
 * other command is aborted. I/O happens synchronously when the protocol asks for it.
 *
 * <p>Errors the guest sees instead of the VMM failing: an address past the end is IDNF, a read the
 * image fails is UNC, a failed write or flush, or any write to a read-only drive, is ABRT.
 */
public final class AtaDisk extends IdeDrive {
    /** Sectors moved per backend request during DMA (the bounce buffer). */
    static final int DMA_CHUNK = 64 * 1024;
    /** DATA SET MANAGEMENT's feature: TRIM. */
    static final int DSM_TRIM = 0x01;
    /** The most 512-byte blocks of TRIM ranges one command sends (a 48-bit count of 0). */
    static final int MAX_TRIM_BLOCKS = 65536;

    private final BlockBackend backend;
    private final long sectors;
    private final DiskGeometry geometry;
    private final String serial;
    private final Consumer<String> log;
    private final BlockStats stats;
    private final ByteBuffer pioView;
    private final byte[] dmaBuffer = new byte[DMA_CHUNK];
    /** Little-endian: TRIM's range entries are read through it. */
    private final Smart smart = new Smart();
    private final ByteBuffer dmaView = ByteBuffer.wrap(dmaBuffer).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    private int loggedErrors;

    // The command in progress
    private long lba;
    private long remaining;
    private int blockSectors;
    private boolean ext;
    private DmaRequest dma = DmaRequest.NONE;

    /** NCQ's depth in IDENTIFY (0: none): set by a SATA host that queues (AHCI), wiring rather than state. */
    private int queueDepth;

    // Modes the driver sets
    private int multiple;
    private int transferMode;
    private boolean writeCache;
    /** The write in progress is a FUA one: flushed before it completes, cache or not. */
    private boolean fua;

    /**
     * @param serialNumber the drive's position from 1 (QEMU's serial "QM0000n")
     * @param log          where failed image I/O is reported (the first few times)
     */
    public AtaDisk(BlockBackend backend, int serialNumber, Consumer<String> log) {
        this(backend, serialNumber, log, new BlockStats());
    }

    /** As the other constructor, counting every image request into {@code stats} (QMP's query-blockstats). */
    public AtaDisk(BlockBackend backend, int serialNumber, Consumer<String> log, BlockStats stats) {
        super(Ata.MAX_MULTIPLE * Ata.SECTOR_SIZE);
        this.stats = stats;
        this.backend = backend;
        this.sectors = backend.size() / Ata.SECTOR_SIZE;
        this.geometry = DiskGeometry.guess(sectors);
        this.serial = IdentifyData.serial(serialNumber);
        this.log = log;
        this.pioView = ByteBuffer.wrap(buffer);
        powerOn();
    }

    @Override
    public IdeMedia media() {
        return IdeMedia.DISK;
    }

    public long sectors() {
        return sectors;
    }

    @Override
    void powerOn() {
        taskfile.clear(unit);
        multiple = Ata.MAX_MULTIPLE;
        transferMode = IdentifyData.DEFAULT_TRANSFER_MODE;
        writeCache = true;
        resetCommand();
        taskfile.signature(false);
        status = Ata.READY;
        error = Ata.DIAGNOSTIC_PASSED;
    }

    @Override
    void softReset() {
        // QEMU's ide_reset through SRST: the multiple count returns to its default too
        powerOn();
    }

    private void resetCommand() {
        stopPio();
        lba = 0;
        remaining = 0;
        blockSectors = 0;
        ext = false;
        fua = false;
        dma = DmaRequest.NONE;
    }

    @Override
    void execute(int opcode) {
        AtaCommand cmd = AtaCommand.of(opcode);
        error = 0;
        resetCommand();
        if (cmd == null) {
            abort();
            return;
        }
        switch (cmd) {
            case IDENTIFY_DEVICE -> {
                IdentifyData.disk(buffer, serial, sectors, geometry, multiple, transferMode, writeCache, queueDepth);
                status = Ata.READY;
                startPio(PioPhase.IN, Ata.SECTOR_SIZE);
                raiseInterrupt();
            }
            case READ_SECTORS, READ_SECTORS_NO_RETRY, READ_SECTORS_EXT, READ_MULTIPLE, READ_MULTIPLE_EXT,
                 WRITE_SECTORS, WRITE_SECTORS_NO_RETRY, WRITE_SECTORS_EXT, WRITE_MULTIPLE, WRITE_MULTIPLE_EXT,
                 WRITE_MULTIPLE_FUA_EXT -> startPioCommand(cmd);
            case READ_DMA, READ_DMA_NO_RETRY, READ_DMA_EXT, WRITE_DMA, WRITE_DMA_NO_RETRY, WRITE_DMA_EXT,
                 WRITE_DMA_FUA_EXT -> startDmaCommand(cmd);
            case READ_VERIFY_SECTORS, READ_VERIFY_SECTORS_NO_RETRY, READ_VERIFY_SECTORS_EXT -> {
                long at = taskfile.address(cmd.ext, geometry);
                if (inRange(at, taskfile.sectorCount(cmd.ext))) {
                    complete();
                } else {
                    outOfRange(at, cmd.ext);
                }
            }
            case SEEK, RECALIBRATE, INITIALIZE_DEVICE_PARAMETERS, STANDBY_IMMEDIATE, IDLE_IMMEDIATE, STANDBY, IDLE,
                 STANDBY_IMMEDIATE_OLD, IDLE_IMMEDIATE_OLD, STANDBY_OLD, IDLE_OLD -> complete();
            case CHECK_POWER_MODE, CHECK_POWER_MODE_OLD -> {
                taskfile.count = 0xFF; // active or idle
                complete();
            }
            case SET_MULTIPLE_MODE -> {
                int n = taskfile.count;
                if (n > Ata.MAX_MULTIPLE || (n & (n - 1)) != 0) {
                    abort();
                } else {
                    multiple = n;
                    complete();
                }
            }
            case SET_FEATURES -> setFeatures();
            case DATA_SET_MANAGEMENT -> dataSetManagement();
            case SMART -> smart();
            case FLUSH_CACHE, FLUSH_CACHE_EXT -> {
                try {
                    long start = System.nanoTime();
                    backend.flush();
                    stats.flush(System.nanoTime() - start);
                    complete();
                } catch (IOException | RuntimeException e) {
                    ioFailed("flush", e);
                    abort();
                }
            }
            case READ_NATIVE_MAX_ADDRESS, READ_NATIVE_MAX_ADDRESS_EXT -> {
                long max = Math.max(0, sectors - 1);
                taskfile.setAddress(cmd.ext ? max : Math.min(max, 0x0FFF_FFFF), cmd.ext, geometry);
                complete();
            }
            case EXECUTE_DEVICE_DIAGNOSTIC -> {
                taskfile.signature(false);
                status = Ata.READY;
                error = Ata.DIAGNOSTIC_PASSED;
                raiseInterrupt();
            }
            // NOP, DEVICE RESET, PACKET and IDENTIFY PACKET DEVICE are not a disk's
            default -> abort();
        }
    }

    /** SET FEATURES (ATA/ATAPI-6, 8.37): the subcommands QEMU accepts. */
    private void setFeatures() {
        switch (taskfile.feature) {
            case 0x02 -> writeCache = true;
            case 0x82 -> writeCache = false;
            case 0x03 -> {
                if (!IdentifyData.validTransferMode(taskfile.count)) {
                    abort();
                    return;
                }
                transferMode = taskfile.count;
            }
            // retries, read look-ahead, defaults, APM, Media Status, 8-bit PIO...: nothing to do
            case 0xCC, 0x66, 0xAA, 0x55, 0x05, 0x85, 0x69, 0x67, 0x96, 0x9A, 0x42, 0xC2 -> { }
            default -> {
                abort();
                return;
            }
        }
        complete();
    }

    /**
     * SMART (ATA/ATAPI-6, 8.41): the key 4Fh/C2h in LBA mid/high, then the subcommand in the
     * features register; RETURN STATUS leaves the key (no threshold exceeded), the READ
     * subcommands hand over a 512-byte page by PIO data-in.
     */
    private void smart() {
        if (taskfile.lbaMid != Smart.KEY_MID || taskfile.lbaHigh != Smart.KEY_HIGH) {
            abort();
            return;
        }
        switch (smart.execute(taskfile.feature, taskfile.lbaLow, buffer)) {
            case ABORT -> abort();
            case DONE -> complete();
            case DATA -> {
                status = Ata.READY;
                startPio(PioPhase.IN, Ata.SECTOR_SIZE);
                raiseInterrupt();
            }
        }
    }

    /**
     * DATA SET MANAGEMENT (ACS-3 7.5) with the TRIM bit, as QEMU's cmd_data_set_management: the
     * count register says how many 512-byte blocks of range entries follow by DMA; any other
     * feature, or a read-only disk, is aborted.
     */
    private void dataSetManagement() {
        if (taskfile.feature != DSM_TRIM || backend.readOnly()) {
            abort();
            return;
        }
        lba = 0;
        remaining = taskfile.sectorCount(true);
        ext = true;
        dma = DmaRequest.TRIM_RANGES;
        status = Ata.READY | Ata.DRQ;
    }

    /**
     * TRIM's range entries, moved from memory and discarded through the image (raw: a hole
     * punched; qcow2: clusters freed): each entry is a little-endian 48-bit LBA and a 16-bit
     * sector count (ACS-3 7.5.3.2; a count of 0 is no range). A range past the end aborts the
     * command, as QEMU's -EINVAL does.
     */
    private DmaOutcome runTrim(DmaRegions prd) {
        long bytes = remaining * Ata.SECTOR_SIZE;
        long described;
        try {
            described = prd.describedBytes();
        } catch (GuestMemoryException e) {
            fail(Ata.ABRT);
            return DmaOutcome.BUS_ERROR;
        }
        if (described < bytes) {
            status = Ata.READY;
            remaining = 0;
            return DmaOutcome.TABLE_TOO_SHORT;
        }
        while (remaining > 0) {
            int n = (int) Math.min(remaining, DMA_CHUNK / Ata.SECTOR_SIZE);
            int len = n * Ata.SECTOR_SIZE;
            try {
                prd.transfer(dmaBuffer, 0, len, false);
            } catch (GuestMemoryException e) {
                remaining = 0;
                fail(Ata.ABRT);
                return DmaOutcome.BUS_ERROR;
            }
            for (int at = 0; at < len; at += 8) {
                long entry = dmaView.getLong(at);
                long start = entry & 0xFFFF_FFFF_FFFFL;
                int count = (int) (entry >>> 48);
                if (count == 0) {
                    continue;
                }
                if (!inRange(start, count)) {
                    remaining = 0;
                    fail(Ata.ABRT);
                    return DmaOutcome.DEVICE_ERROR;
                }
                try {
                    backend.discard(start * Ata.SECTOR_SIZE, (long) count * Ata.SECTOR_SIZE);
                } catch (IOException | RuntimeException e) {
                    lba = start;
                    ioFailed("discard", e);
                    remaining = 0;
                    fail(Ata.ABRT);
                    return DmaOutcome.DEVICE_ERROR;
                }
            }
            remaining -= n;
        }
        complete();
        return described > bytes ? DmaOutcome.COMPLETE_TABLE_LONGER : DmaOutcome.COMPLETE;
    }

    private boolean inRange(long at, long count) {
        return at >= 0 && at <= sectors && count <= sectors - at;
    }

    private void outOfRange(long at, boolean ext48) {
        fail(Ata.IDNF);
        if (at >= 0) {
            taskfile.setAddress(Math.min(at, sectors), ext48, geometry);
        }
    }

    // ---- PIO ------------------------------------------------------------------------------------

    private void startPioCommand(AtaCommand cmd) {
        if (cmd.multiple() && multiple == 0) {
            abort(); // READ/WRITE MULTIPLE before SET MULTIPLE MODE
            return;
        }
        if (!claimSectors(cmd)) {
            return;
        }
        blockSectors = cmd.multiple() ? multiple : 1;
        status = Ata.READY;
        if (cmd.writes()) {
            startPio(PioPhase.OUT, nextBlock() * Ata.SECTOR_SIZE); // no interrupt before the first block
        } else {
            readBlock();
        }
    }

    /**
     * The sectors a READ/WRITE (PIO or DMA) names, taken as the transfer: false, with the error
     * set, when they lie past the end or the command writes a read-only disk.
     */
    private boolean claimSectors(AtaCommand cmd) {
        long at = taskfile.address(cmd.ext, geometry);
        int count = taskfile.sectorCount(cmd.ext);
        if (!inRange(at, count)) {
            outOfRange(at, cmd.ext);
            return false;
        }
        if (cmd.writes() && backend.readOnly()) {
            abort();
            return false;
        }
        lba = at;
        remaining = count;
        ext = cmd.ext;
        fua = cmd.forcedUnitAccess();
        return true;
    }

    private int nextBlock() {
        return (int) Math.min(blockSectors, remaining);
    }

    /** Loads the next block into the buffer and offers it (DRQ, interrupt). */
    private void readBlock() {
        int n = nextBlock();
        int bytes = n * Ata.SECTOR_SIZE;
        try {
            long start = System.nanoTime();
            pioView.clear().limit(bytes);
            backend.read(lba * Ata.SECTOR_SIZE, pioView);
            stats.read(bytes, System.nanoTime() - start);
        } catch (IOException | RuntimeException e) {
            ioFailed("read", e);
            taskfile.setAddress(lba, ext, geometry);
            fail(Ata.UNC);
            return;
        }
        lba += n;
        remaining -= n;
        taskfile.setAddress(lba, ext, geometry);
        status = Ata.READY;
        startPio(PioPhase.IN, bytes);
        raiseInterrupt();
    }

    @Override
    void pioDone() {
        if (phase == PioPhase.IN) {
            if (remaining > 0) {
                readBlock();
            } else {
                // the last block read: no interrupt (ATA/ATAPI-6, 9.7)
                stopPio();
                status = Ata.READY;
            }
            return;
        }
        int n = end / Ata.SECTOR_SIZE;
        try {
            long start = System.nanoTime();
            pioView.clear().limit(end);
            backend.write(lba * Ata.SECTOR_SIZE, pioView);
            if (!writeCache || fua) {
                backend.flush();    // FUA: the block is on the medium before the next DRQ or the completion
            }
            stats.write(lba * Ata.SECTOR_SIZE, end, System.nanoTime() - start);
        } catch (IOException | RuntimeException e) {
            ioFailed("write", e);
            taskfile.setAddress(lba, ext, geometry);
            abort();
            return;
        }
        lba += n;
        remaining -= n;
        taskfile.setAddress(lba, ext, geometry);
        if (remaining > 0) {
            status = Ata.READY;
            startPio(PioPhase.OUT, nextBlock() * Ata.SECTOR_SIZE);
            raiseInterrupt();
        } else {
            complete();
        }
    }

    // ---- native command queuing (a SATA host's) ------------------------------------------------

    /** Reports NCQ with {@code depth} tags in IDENTIFY DEVICE (words 75-76), as QEMU does behind AHCI. */
    public void offerQueuing(int depth) {
        this.queueDepth = depth;
    }

    /**
     * READ or WRITE FPDMA QUEUED (ACS-3 7.23, 7.68) as a queuing host hands it over: {@code count}
     * sectors at {@code lba} through {@code regions}, at once. The status and error registers end
     * as a DMA command's would (an address past the end: IDNF; a read-only disk: ABRT).
     */
    public DmaOutcome queued(boolean write, long lba, int count, DmaRegions regions) {
        error = 0;
        resetCommand();
        if (!inRange(lba, count)) {
            outOfRange(lba, true);
            return DmaOutcome.DEVICE_ERROR;
        }
        if (write && backend.readOnly()) {
            abort();
            return DmaOutcome.DEVICE_ERROR;
        }
        this.lba = lba;
        this.remaining = count;
        this.ext = true;
        this.dma = write ? DmaRequest.FROM_MEMORY : DmaRequest.TO_MEMORY;
        return runDma(regions);
    }

    // ---- DMA ------------------------------------------------------------------------------------

    private void startDmaCommand(AtaCommand cmd) {
        if (!claimSectors(cmd)) {
            return;
        }
        dma = cmd.writes() ? DmaRequest.FROM_MEMORY : DmaRequest.TO_MEMORY;
        status = Ata.READY | Ata.DRQ; // as QEMU: waiting for the bus master
    }

    @Override
    DmaRequest dmaRequest() {
        return dma;
    }

    @Override
    void cancelDma() {
        dma = DmaRequest.NONE;
        remaining = 0;
        status &= ~Ata.DRQ;
    }

    @Override
    DmaOutcome runDma(DmaRegions prd) {
        if (dma == DmaRequest.TRIM_RANGES) {
            dma = DmaRequest.NONE;
            return runTrim(prd);
        }
        boolean toMemory = dma == DmaRequest.TO_MEMORY;
        dma = DmaRequest.NONE;
        long bytes = remaining * Ata.SECTOR_SIZE;
        long described;
        try {
            described = prd.describedBytes();
        } catch (GuestMemoryException e) {
            fail(Ata.ABRT);
            return DmaOutcome.BUS_ERROR;
        }
        if (described < bytes) {
            // QEMU: reset ACTIVE, no interrupt; the driver times out and resets
            status = Ata.READY;
            remaining = 0;
            return DmaOutcome.TABLE_TOO_SHORT;
        }
        while (remaining > 0) {
            int n = (int) Math.min(remaining, DMA_CHUNK / Ata.SECTOR_SIZE);
            int len = n * Ata.SECTOR_SIZE;
            long offset = lba * Ata.SECTOR_SIZE;
            try {
                if (toMemory) {
                    long start = System.nanoTime();
                    dmaView.clear().limit(len);
                    backend.read(offset, dmaView);
                    stats.read(len, System.nanoTime() - start);
                    prd.transfer(dmaBuffer, 0, len, true);
                } else {
                    prd.transfer(dmaBuffer, 0, len, false);
                    long start = System.nanoTime();
                    dmaView.clear().limit(len);
                    backend.write(offset, dmaView);
                    stats.write(offset, len, System.nanoTime() - start);
                }
            } catch (GuestMemoryException e) {
                taskfile.setAddress(lba, ext, geometry);
                remaining = 0;
                fail(Ata.ABRT);
                return DmaOutcome.BUS_ERROR;
            } catch (IOException | RuntimeException e) {
                ioFailed(toMemory ? "read" : "write", e);
                taskfile.setAddress(lba, ext, geometry);
                remaining = 0;
                fail(toMemory ? Ata.UNC : Ata.ABRT);
                return DmaOutcome.DEVICE_ERROR;
            }
            lba += n;
            remaining -= n;
        }
        if (!toMemory && (!writeCache || fua)) {
            try {
                backend.flush();
            } catch (IOException | RuntimeException e) {
                ioFailed("flush", e);
                fail(Ata.ABRT);
                return DmaOutcome.DEVICE_ERROR;
            }
        }
        taskfile.setAddress(lba, ext, geometry);
        complete();
        return described > bytes ? DmaOutcome.COMPLETE_TABLE_LONGER : DmaOutcome.COMPLETE;
    }

    private void ioFailed(String what, Exception e) {
        stats.failed();
        if (loggedErrors < 10) {
            loggedErrors++;
            log.accept("ide: " + backend.describe() + ": " + what + " failed at sector " + lba + ": " + e.getMessage());
        }
    }

    // ---- state ----------------------------------------------------------------------------------

    @Override
    IdeDriveState save() {
        return new IdeDriveState(IdeMedia.DISK, sectors, taskfile.save(), status, error, phase, savedBuffer(), position,
            lba, remaining, blockSectors, ext, dma, multiple, transferMode, writeCache, fua, Optional.empty(),
            Optional.of(smart.save()));
    }

    @Override
    void restore(String where, IdeDriveState s) throws DeviceStateException {
        if (s.media() != IdeMedia.DISK || s.atapi().isPresent()) {
            throw new DeviceStateException(where + ": the state is a " + s.media() + "'s, this drive is a disk");
        }
        if (s.sectors() != sectors) {
            throw new DeviceStateException(where + ": the disk had " + s.sectors() + " sectors, this image has " + sectors);
        }
        DeviceStateException.checkRange(where, "status", s.status(), 0, 0xFF);
        DeviceStateException.checkRange(where, "error", s.error(), 0, 0xFF);
        DeviceStateException.checkRange(where, "lba", s.lba(), 0, sectors);
        // TRIM's count is of range-entry blocks, not of the disk's sectors
        DeviceStateException.checkRange(where, "remaining sectors", s.remaining(), 0,
            s.dma() == DmaRequest.TRIM_RANGES ? MAX_TRIM_BLOCKS : sectors - s.lba());
        DeviceStateException.checkRange(where, "block sectors", s.blockSectors(), 0, Ata.MAX_MULTIPLE);
        DeviceStateException.checkRange(where, "multiple", s.multiple(), 0, Ata.MAX_MULTIPLE);
        if (s.phase() == PioPhase.PACKET || (s.data().length() % Ata.SECTOR_SIZE) != 0) {
            throw new DeviceStateException(where + ": a disk has no " + s.phase() + " phase of " + s.data().length() + " bytes");
        }
        if (!IdentifyData.validTransferMode(s.transferMode())) {
            throw new DeviceStateException(where + ": transfer mode " + s.transferMode());
        }
        if (s.smart().isPresent()) {
            smart.restore(where, s.smart().get());
        }
        restorePio(where, s.phase(), s.data(), s.position());
        taskfile.restore(s.taskfile());
        status = s.status();
        error = s.error();
        lba = s.lba();
        remaining = s.remaining();
        blockSectors = s.blockSectors();
        ext = s.ext();
        dma = s.dma();
        multiple = s.multiple();
        transferMode = s.transferMode();
        writeCache = s.writeCache();
        fua = s.fua();
    }
}
