package org.jvisor.devices.ahci;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.devices.ide.AtaDisk;
import org.jvisor.devices.ide.AtapiCdrom;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;

/**
 * An AHCI HBA with devices on temporary images, driven as libahci drives it: through ABAR's
 * registers and structures in 2 MiB of test RAM. Port p's command list is at 0x10000 + p * 0x1000,
 * its received-FIS area 0x800 above it, slot s's command table at 0x40000 + s * 0x1000. The INTx
 * level and the messages sent are recorded, and so are the log lines.
 */
final class AhciRig implements AutoCloseable {
    static final int SECTOR = 512;
    static final long TABLES = 0x40000;

    final GuestMemory ram;
    final DmaSpace dma;
    final List<String> log = new ArrayList<>();
    final List<BlockBackend> backends = new ArrayList<>();
    final AhciHba hba;
    private final boolean ownsRam;
    boolean intx;
    int messages;

    AhciRig() {
        this(GuestMemory.allocate(GuestMemory.MIN_SIZE), null);
    }

    /**
     * An HBA that reaches {@code ram} through {@code dma} (an IOMMU's view; null: directly). The
     * rig writes the driver's structures through the same view, so the addresses above are bus
     * addresses. {@code ram} given this way stays its owner's.
     */
    AhciRig(GuestMemory ram, DmaSpace dma) {
        this.ram = ram;
        this.ownsRam = dma == null;
        this.dma = dma != null ? dma : new IdentityDma(ram);
        hba = new AhciHba("ahci0", Ich9Ahci.PORTS, this.dma, new AhciHba.Interrupt() {
            @Override
            public void level(boolean asserted) {
                intx = asserted;
            }

            @Override
            public void message() {
                messages++;
            }
        }, log::add);
    }

    AtaDisk disk(int port, Path image, boolean readOnly) throws IOException {
        BlockBackend b = BlockImages.open(image, "raw", readOnly, CacheMode.WRITEBACK, false, msg -> { });
        backends.add(b);
        AtaDisk d = new AtaDisk(b, port + 1, msg -> { });
        hba.attach(port, d);
        return d;
    }

    AtapiCdrom cdrom(int port, Path image) throws IOException {
        BlockBackend b = BlockImages.open(image, "raw", true, CacheMode.WRITEBACK, false, msg -> { });
        backends.add(b);
        AtapiCdrom d = new AtapiCdrom(b, port + 1, msg -> { });
        hba.attach(port, d);
        return d;
    }

    // ---- registers --------------------------------------------------------------------------------

    int hbaReg(HbaRegister r) {
        return hba.readDword(r.offset);
    }

    void hbaReg(HbaRegister r, int v) {
        hba.writeDword(r.offset, v);
    }

    int reg(int port, PortRegister r) {
        return hba.readDword(AhciHba.PORTS_OFFSET + port * AhciHba.PORT_SIZE + r.offset);
    }

    void reg(int port, PortRegister r, int v) {
        hba.writeDword(AhciHba.PORTS_OFFSET + port * AhciHba.PORT_SIZE + r.offset, v);
    }

    static long commandList(int port) {
        return 0x10000L + port * 0x1000L;
    }

    static long fisArea(int port) {
        return commandList(port) + 0x800;
    }

    static long table(int slot) {
        return TABLES + slot * 0x1000L;
    }

    /** libahci's start: AE and IE, the port's bases, FRE, then ST, every port interrupt enabled. */
    void start(int port) {
        hbaReg(HbaRegister.GHC, Ahci.GHC_AE | Ahci.GHC_IE);
        reg(port, PortRegister.CLB, (int) commandList(port));
        reg(port, PortRegister.CLBU, 0);
        reg(port, PortRegister.FB, (int) fisArea(port));
        reg(port, PortRegister.FBU, 0);
        reg(port, PortRegister.CMD, reg(port, PortRegister.CMD) | Ahci.CMD_FRE);
        reg(port, PortRegister.IS, -1);
        reg(port, PortRegister.IE, Ahci.IS_MASK);
        reg(port, PortRegister.CMD, reg(port, PortRegister.CMD) | Ahci.CMD_ST);
    }

    /** Port {@code port}'s ST cleared and set again, as libahci restarts the engine after an error. */
    void restart(int port) {
        reg(port, PortRegister.CMD, reg(port, PortRegister.CMD) & ~Ahci.CMD_ST);
        reg(port, PortRegister.IS, -1);
        reg(port, PortRegister.CMD, reg(port, PortRegister.CMD) | Ahci.CMD_ST);
    }

    // ---- commands ---------------------------------------------------------------------------------

    /** One PRDT entry: {@code bytes} (even) at {@code address}. */
    record Region(long address, int bytes) {
    }

    /**
     * Builds slot {@code slot}'s command: header (CFL 5, ATAPI and write flags, PRDTL), the
     * Register H2D FIS with {@code command}, {@code features}, 48-bit {@code lba}, {@code count}
     * and device 0x40, the ATAPI packet if any, the PRDT.
     */
    void command(int port, int slot, int command, int features, long lba, int count, byte[] packet, boolean write,
                 Region... prdt) {
        long header = commandList(port) + slot * 32L;
        int dw0 = 5 | (packet != null ? Ahci.HEADER_ATAPI : 0) | (write ? Ahci.HEADER_WRITE : 0) | prdt.length << 16;
        dma.writeU32(header, dw0);
        dma.writeU32(header + 4, 0xDEAD);
        dma.writeU64(header + 8, table(slot));
        byte[] fis = new byte[64];
        fis[0] = 0x27;
        fis[1] = (byte) 0x80;
        fis[2] = (byte) command;
        fis[3] = (byte) features;
        fis[4] = (byte) lba;
        fis[5] = (byte) (lba >> 8);
        fis[6] = (byte) (lba >> 16);
        fis[7] = 0x40;
        fis[8] = (byte) (lba >> 24);
        fis[9] = (byte) (lba >> 32);
        fis[10] = (byte) (lba >> 40);
        fis[11] = (byte) (features >> 8);
        fis[12] = (byte) count;
        fis[13] = (byte) (count >> 8);
        dma.write(table(slot), fis, 0, fis.length);
        byte[] acmd = new byte[16];
        if (packet != null) {
            System.arraycopy(packet, 0, acmd, 0, packet.length);
        }
        dma.write(table(slot) + Ahci.TABLE_ACMD, acmd, 0, 16);
        for (int i = 0; i < prdt.length; i++) {
            long e = table(slot) + Ahci.TABLE_PRDT + i * 16L;
            dma.writeU64(e, prdt[i].address());
            dma.writeU32(e + 8, 0);
            dma.writeU32(e + 12, prdt[i].bytes() - 1);
        }
    }

    /** Issues slot {@code slot} (PxCI). */
    void issue(int port, int slot) {
        reg(port, PortRegister.CI, 1 << slot);
    }

    /** The header's PRDBC: bytes the last command in {@code slot} moved. */
    int prdbc(int port, int slot) {
        return dma.readU32(commandList(port) + slot * 32L + 4);
    }

    /** A byte of the received-FIS area. */
    int rxFis(int port, int offset) {
        byte[] b = new byte[1];
        dma.read(fisArea(port) + offset, b, 0, 1);
        return b[0] & 0xFF;
    }

    byte[] read(long address, int length) {
        byte[] b = new byte[length];
        dma.read(address, b, 0, length);
        return b;
    }

    @Override
    public void close() throws IOException {
        for (BlockBackend b : backends) {
            b.close();
        }
        if (ownsRam) {
            ram.close();
        }
    }
}
