package org.jvisor.devices.ide;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;

/**
 * A PIIX3 IDE function with drives on temporary images, driven through its ports as a guest's
 * driver does: the primary channel's command block (0x1F0-0x1F7), control port (0x3F6) and bus
 * master registers (BAR4), with 2 MiB of test RAM for PRD tables and buffers. IRQ 14's level and
 * rising edges are recorded.
 */
final class IdeRig implements AutoCloseable {
    static final int SECTOR = 512;

    final GuestMemory ram = GuestMemory.allocate(GuestMemory.MIN_SIZE);
    final Piix3Ide ide;
    final List<BlockBackend> backends = new ArrayList<>();
    /** What every drive of the rig counts (query-blockstats). */
    final org.jvisor.devices.virtio.BlockStats stats = new org.jvisor.devices.virtio.BlockStats();
    boolean irq;
    int irqEdges;
    final BusDevice cmd;
    final BusDevice ctl;
    final BusDevice bm;

    IdeRig() {
        ide = new Piix3Ide(level -> {
            if (level && !irq) {
                irqEdges++;
            }
            irq = level;
        }, level -> { }, new IdentityDma(ram));
        cmd = ide.channel(0).commandBlock();
        ctl = ide.channel(0).controlBlock();
        bm = ide.bar(Piix3Ide.BUS_MASTER_BAR).device();
        ide.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_IO | PciDevice.COMMAND_BUS_MASTER);
    }

    /** A raw image of {@code sectors} sectors, each filled with a byte pattern of its number. */
    static Path image(Path dir, String name, int sectors) throws IOException {
        byte[] b = new byte[sectors * SECTOR];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i / SECTOR * 7 + i * 13);
        }
        Path p = dir.resolve(name);
        Files.write(p, b);
        return p;
    }

    /** Attaches a disk on {@code image} at primary unit {@code unit}. */
    AtaDisk disk(Path image, int unit, boolean readOnly) throws IOException {
        return disk(BlockImages.open(image, "raw", readOnly, CacheMode.WRITEBACK, false, msg -> { }), unit);
    }

    /** Attaches a CD-ROM with the medium {@code image} at primary unit {@code unit}. */
    AtapiCdrom cdrom(Path image, int unit) throws IOException {
        BlockBackend b = BlockImages.open(image, "raw", true, CacheMode.WRITEBACK, false, msg -> { });
        backends.add(b);
        AtapiCdrom d = new AtapiCdrom(b, unit + 1, msg -> { }, stats);
        ide.channel(0).attach(unit, d);
        return d;
    }

    /** Attaches an empty CD-ROM drive at primary unit {@code unit}. */
    AtapiCdrom emptyCdrom(int unit) {
        AtapiCdrom d = new AtapiCdrom(null, unit + 1, msg -> { }, stats);
        ide.channel(0).attach(unit, d);
        return d;
    }

    /** Opens {@code image} as a CD-ROM medium the test hands to a drive (closed with the rig if still open). */
    BlockBackend medium(Path image) throws IOException {
        return BlockImages.open(image, "raw", true, CacheMode.WRITEBACK, false, msg -> { });
    }

    /**
     * Sends a 12-byte packet with PACKET ({@code dma}: features bit 0) and the byte count limit
     * {@code limit}, as libata's ATAPI path does.
     */
    void packet(byte[] cdb, int limit, boolean dma) {
        reg(AtaRegister.ERROR_FEATURES, dma ? 1 : 0);
        reg(AtaRegister.LBA_MID, limit & 0xFF);
        reg(AtaRegister.LBA_HIGH, limit >> 8);
        command(0xA0);
        byte[] p = java.util.Arrays.copyOf(cdb, 12);
        writePio(p);
    }

    AtaDisk disk(BlockBackend b, int unit) {
        backends.add(b);
        AtaDisk d = new AtaDisk(b, unit + 1, msg -> { }, stats);
        ide.channel(0).attach(unit, d);
        return d;
    }

    // ---- registers ------------------------------------------------------------------------------

    int reg(AtaRegister r) {
        return (int) cmd.read(r.ordinal(), 1);
    }

    void reg(AtaRegister r, int v) {
        cmd.write(r.ordinal(), 1, v);
    }

    int status() {
        return reg(AtaRegister.STATUS_COMMAND);
    }

    int altStatus() {
        return (int) ctl.read(0, 1);
    }

    int error() {
        return reg(AtaRegister.ERROR_FEATURES);
    }

    void control(int v) {
        ctl.write(0, 1, v);
    }

    void select(int unit) {
        reg(AtaRegister.DEVICE, 0xE0 | unit << 4);
    }

    /** LBA28 registers for unit 0: count and address. */
    void lba28(long lba, int count) {
        reg(AtaRegister.SECTOR_COUNT, count);
        reg(AtaRegister.LBA_LOW, (int) lba);
        reg(AtaRegister.LBA_MID, (int) (lba >> 8));
        reg(AtaRegister.LBA_HIGH, (int) (lba >> 16));
        reg(AtaRegister.DEVICE, 0xE0 | (int) (lba >> 24) & 0xF);
    }

    /** LBA48 registers (high halves first, as libata writes them). */
    void lba48(long lba, int count) {
        reg(AtaRegister.SECTOR_COUNT, count >> 8);
        reg(AtaRegister.LBA_LOW, (int) (lba >> 24));
        reg(AtaRegister.LBA_MID, (int) (lba >> 32));
        reg(AtaRegister.LBA_HIGH, (int) (lba >> 40));
        reg(AtaRegister.SECTOR_COUNT, count);
        reg(AtaRegister.LBA_LOW, (int) lba);
        reg(AtaRegister.LBA_MID, (int) (lba >> 8));
        reg(AtaRegister.LBA_HIGH, (int) (lba >> 16));
        reg(AtaRegister.DEVICE, 0x40);
    }

    void command(int opcode) {
        reg(AtaRegister.STATUS_COMMAND, opcode);
    }

    /** Reads {@code bytes} through the data port, 16 bits at a time. */
    byte[] readPio(int bytes) {
        byte[] b = new byte[bytes];
        for (int i = 0; i < bytes; i += 2) {
            int v = (int) cmd.read(0, 2);
            b[i] = (byte) v;
            b[i + 1] = (byte) (v >> 8);
        }
        return b;
    }

    void writePio(byte[] b) {
        for (int i = 0; i < b.length; i += 2) {
            cmd.write(0, 2, b[i] & 0xFF | (b[i + 1] & 0xFF) << 8);
        }
    }

    /** Writes a PRD table at {@code table}: pairs of region address and byte count, the last with EOT. */
    void prd(long table, long... regions) {
        for (int i = 0; i < regions.length; i += 2) {
            ram.writeU32(table + 4L * i, (int) regions[i]);
            int control = (int) regions[i + 1] & 0xFFFF | (i + 2 >= regions.length ? PrdTable.END_OF_TABLE : 0);
            ram.writeU32(table + 4L * i + 4, control);
        }
    }

    int bmStatus() {
        return (int) bm.read(BusMasterDma.STATUS, 1);
    }

    void bmSetup(long table, boolean toMemory) {
        bm.write(BusMasterDma.PRD_ADDRESS, 4, table);
        bm.write(BusMasterDma.COMMAND, 1, toMemory ? BusMasterDma.COMMAND_TO_MEMORY : 0);
    }

    void bmStart(boolean toMemory) {
        bm.write(BusMasterDma.COMMAND, 1, BusMasterDma.COMMAND_START | (toMemory ? BusMasterDma.COMMAND_TO_MEMORY : 0));
    }

    /** Stops the bus master and clears INTERRUPT/ERROR, as ata_bmdma_stop and the irq handler do. */
    void bmStop() {
        bm.write(BusMasterDma.COMMAND, 1, 0);
        bm.write(BusMasterDma.STATUS, 1, BusMasterDma.STATUS_INTERRUPT | BusMasterDma.STATUS_ERROR);
    }

    static byte[] sectors(Path image, long lba, int count) throws IOException {
        byte[] all = Files.readAllBytes(image);
        byte[] b = new byte[count * SECTOR];
        System.arraycopy(all, (int) lba * SECTOR, b, 0, b.length);
        return b;
    }

    static int word(byte[] identify, int w) {
        return identify[2 * w] & 0xFF | (identify[2 * w + 1] & 0xFF) << 8;
    }

    /** An ATA string of IDENTIFY: {@code words} words from {@code w}, byte-swapped, trimmed. */
    static String text(byte[] identify, int w, int words) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 2 * words; i++) {
            s.append((char) identify[2 * w + (i ^ 1)]);
        }
        return s.toString().trim();
    }

    static ByteBuffer buffer(int n) {
        return ByteBuffer.allocate(n);
    }

    @Override
    public void close() throws IOException {
        for (BlockBackend b : backends) {
            b.close();
        }
        ram.close();
    }
}
