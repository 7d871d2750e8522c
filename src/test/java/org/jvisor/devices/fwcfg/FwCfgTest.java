package org.jvisor.devices.fwcfg;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Drives fw_cfg through its ports and DMA the way SeaBIOS's fw/paravirt.c does. */
class FwCfgTest {
    private static final long ACCESS = 0x1000;
    private static final long BUFFER = 0x2000;

    private final GuestMemory ram = GuestMemory.allocate(2 << 20);
    private final AddressSpace io = new AddressSpace("io", 0x10000);
    private final FwCfg fwcfg = new FwCfg(new FwCfgItems()
        .put(FwCfgItems.NB_CPUS, FwCfgItems.le(2, 2))
        .file("etc/zeta", "last".getBytes(StandardCharsets.US_ASCII))
        .file("bootorder", "/pci@i0cf8/scsi@4/disk@0,0\n".getBytes(StandardCharsets.US_ASCII))
        .file("etc/e820", new byte[40]), new IdentityDma(ram));

    FwCfgTest() {
        io.register("fw_cfg", FwCfg.PORT_SELECTOR, FwCfg.SIZE, fwcfg);
    }

    @AfterEach
    void close() {
        ram.close();
    }

    private byte[] readPio(int key, int n) {
        io.write(FwCfg.PORT_SELECTOR, 2, key);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) io.read(FwCfg.PORT_DATA, 1);
        }
        return b;
    }

    /** qemu_cfg_dma_transfer: the access structure in RAM, its address written high half first. */
    private int dma(int control, int length, long address) {
        ram.writeU32(ACCESS, Integer.reverseBytes(control));
        ram.writeU32(ACCESS + 4, Integer.reverseBytes(length));
        ram.writeU64(ACCESS + 8, Long.reverseBytes(address));
        io.write(FwCfg.PORT_DMA, 4, Integer.reverseBytes((int) (ACCESS >>> 32)));
        io.write(FwCfg.PORT_DMA + 4, 4, Integer.reverseBytes((int) ACCESS));
        return Integer.reverseBytes(ram.readU32(ACCESS));
    }

    private byte[] ramBytes(long at, int n) {
        byte[] b = new byte[n];
        ram.read(at, b, 0, n);
        return b;
    }

    @Test
    void signatureIdAndDmaSignatureAreQemus() {
        assertArrayEquals("QEMU".getBytes(StandardCharsets.US_ASCII), readPio(FwCfgItems.SIGNATURE, 4));
        assertArrayEquals(new byte[] {3, 0, 0, 0}, readPio(FwCfgItems.ID, 4));
        // the DMA register reads "QEMU CFG" in address order (a big-endian 64-bit value)
        assertEquals(0x554D4551L, io.read(FwCfg.PORT_DMA, 4));
        assertEquals(0x47464320L, io.read(FwCfg.PORT_DMA + 4, 4));
        assertArrayEquals(new byte[] {2, 0}, readPio(FwCfgItems.NB_CPUS, 2));
    }

    @Test
    void directoryListsFilesByNameBigEndianAndDmaReadsThem() {
        assertEquals(0, dma(FwCfgItems.FILE_DIR << 16 | FwCfg.DMA_SELECT | FwCfg.DMA_READ, 4, BUFFER));
        int count = Integer.reverseBytes(ram.readU32(BUFFER));
        assertEquals(3, count);
        assertEquals(0, dma(FwCfg.DMA_READ, 64 * count, BUFFER)); // continues where the first read stopped
        List<String> names = new ArrayList<>();
        int zetaKey = -1;
        int zetaSize = -1;
        for (int i = 0; i < count; i++) {
            long e = BUFFER + 64L * i;
            byte[] name = ramBytes(e + 8, 56);
            int len = 0;
            while (name[len] != 0) {
                len++;
            }
            String n = new String(name, 0, len, StandardCharsets.US_ASCII);
            names.add(n);
            if (n.equals("etc/zeta")) {
                zetaSize = Integer.reverseBytes(ram.readU32(e));
                zetaKey = Short.reverseBytes(ram.readU16(e + 4)) & 0xFFFF;
            }
        }
        assertEquals(List.of("bootorder", "etc/e820", "etc/zeta"), names);
        assertEquals(4, zetaSize);
        // select, skip one byte, read past the end: the rest is zeros
        ram.fill(BUFFER, 8, (byte) 0x55);
        assertEquals(0, dma(zetaKey << 16 | FwCfg.DMA_SELECT | FwCfg.DMA_SKIP, 1, 0));
        assertEquals(0, dma(FwCfg.DMA_READ, 8, BUFFER));
        assertArrayEquals(new byte[] {'a', 's', 't', 0, 0, 0, 0, 0}, ramBytes(BUFFER, 8));
        assertArrayEquals("last".getBytes(StandardCharsets.US_ASCII), readPio(zetaKey, 4));
    }

    @Test
    void badDmaTargetsAndWritesReportTheErrorBit() {
        assertEquals(FwCfg.DMA_ERROR, dma(FwCfgItems.SIGNATURE << 16 | FwCfg.DMA_SELECT | FwCfg.DMA_READ, 4,
            0xF000_0000L));
        assertEquals(FwCfg.DMA_ERROR, dma(FwCfgItems.SIGNATURE << 16 | FwCfg.DMA_SELECT | FwCfg.DMA_WRITE, 4, BUFFER));
        // an unknown key reads as zeros, by port and DMA
        assertArrayEquals(new byte[4], readPio(0x1234, 4));
        ram.fill(BUFFER, 4, (byte) 0x55);
        assertEquals(0, dma(0x1234 << 16 | FwCfg.DMA_SELECT | FwCfg.DMA_READ, 4, BUFFER));
        assertArrayEquals(new byte[4], ramBytes(BUFFER, 4));
    }

    @Test
    void stateRoundTripsAndKeepsTheReadPosition() throws Exception {
        io.write(FwCfg.PORT_SELECTOR, 2, FwCfgItems.SIGNATURE);
        io.read(FwCfg.PORT_DATA, 1);
        FwCfgState s = fwcfg.saveState();
        assertEquals(new FwCfgState(0, 1, 0), s);
        fwcfg.reset();
        fwcfg.restoreState(s);
        assertEquals('E', io.read(FwCfg.PORT_DATA, 1));
    }

    @Test
    void badItemsAreRefused() {
        FwCfgItems items = new FwCfgItems().file("a", new byte[0]);
        assertThrows(IllegalArgumentException.class, () -> items.file("a", new byte[1]));
        assertThrows(IllegalArgumentException.class, () -> items.file("x".repeat(56), new byte[1]));
        assertThrows(IllegalArgumentException.class, () -> items.put(0x20, new byte[1]));
    }
}
