package org.jvisor.devices.fwcfg;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.GuestMemoryException;

/**
 * QEMU's firmware configuration device as the PC has it in I/O space (QEMU docs/specs/fw_cfg.txt):
 * the selector register (16-bit) at offset 0 (port 0x510), the data register (byte) at offset 1
 * (0x511) and the DMA address register (64-bit, big-endian) at offsets 4-11 (0x514). A write of the
 * address's low half (or of all 8 bytes) runs the FWCfgDmaAccess at that guest address: select,
 * read, skip or write, and the control word is written back as 0 or with the error bit.
 *
 * <p>Item contents are fixed when the machine is built ({@link FwCfgItems}); the guest can write
 * none of them (QEMU's writable files are not offered), so a DMA write reports an error.
 */
public final class FwCfg implements BusDevice, StatefulDevice<FwCfgState> {
    /** The selector port; the data port follows it, the DMA address register is 4 ports on. */
    public static final int PORT_SELECTOR = 0x510;
    public static final int PORT_DATA = 0x511;
    public static final int PORT_DMA = 0x514;
    /** Ports 0x510-0x51B. */
    public static final int SIZE = 12;

    static final int DMA_ERROR = 0x01;
    static final int DMA_READ = 0x02;
    static final int DMA_SKIP = 0x04;
    static final int DMA_SELECT = 0x08;
    static final int DMA_WRITE = 0x10;
    private static final byte[] DMA_SIGNATURE = "QEMU CFG".getBytes(StandardCharsets.US_ASCII);
    /** Bytes moved per step of a DMA read, so a huge length never allocates a huge buffer. */
    private static final int DMA_CHUNK = 64 << 10;

    private final Map<Integer, byte[]> items;
    private final DmaSpace dma;
    private int selector;
    private int offset;
    private long dmaAddress;

    public FwCfg(FwCfgItems items, DmaSpace dma) {
        this.items = Map.copyOf(items.build());
        this.dma = dma;
    }

    public synchronized void reset() {
        selector = 0;
        offset = 0;
        dmaAddress = 0;
    }

    @Override
    public synchronized long read(long port, int size) {
        if (port == PORT_DATA - PORT_SELECTOR) {
            long v = 0;
            for (int i = 0; i < size; i++) {
                v |= (long) nextByte() << (8 * i); // string order (fw_cfg.txt, "Data Register")
            }
            return v;
        }
        int at = (int) port - (PORT_DMA - PORT_SELECTOR);
        if (at >= 0 && at + size <= DMA_SIGNATURE.length) {
            long v = 0;
            for (int i = 0; i < size; i++) {
                v |= (long) (DMA_SIGNATURE[at + i] & 0xFF) << (8 * i);
            }
            return v;
        }
        return 0;
    }

    @Override
    public void write(long port, int size, long value) {
        int at = (int) port;
        if (at == 0 && size >= 2) {
            select((int) value & 0xFFFF);
        } else if (at == PORT_DMA - PORT_SELECTOR && size == 8) {
            runDma(Long.reverseBytes(value));
        } else if (at == PORT_DMA - PORT_SELECTOR && size == 4) {
            synchronized (this) {
                dmaAddress = (Integer.reverseBytes((int) value) & 0xFFFF_FFFFL) << 32;
            }
        } else if (at == PORT_DMA - PORT_SELECTOR + 4 && size == 4) {
            long address;
            synchronized (this) {
                address = dmaAddress | (Integer.reverseBytes((int) value) & 0xFFFF_FFFFL);
                dmaAddress = 0;
            }
            runDma(address);
        }
        // the data register ignores writes (deprecated since QEMU 2.4; fw_cfg.txt)
    }

    private synchronized void select(int key) {
        selector = key;
        offset = 0;
    }

    private int nextByte() {
        byte[] item = items.get(selector & ~0x4000);
        if (item == null || offset >= item.length) {
            return 0;
        }
        return item[offset++] & 0xFF;
    }

    /** Runs the FWCfgDmaAccess at {@code address}: be32 control, be32 length, be64 address. */
    private synchronized void runDma(long address) {
        int control;
        int length;
        long target;
        try {
            control = Integer.reverseBytes(dma.readU32(address));
            length = Integer.reverseBytes(dma.readU32(address + 4));
            target = Long.reverseBytes(dma.readU64(address + 8));
        } catch (GuestMemoryException e) {
            return; // no access structure to run or to report on
        }
        if ((control & DMA_SELECT) != 0) {
            select(control >>> 16);
        }
        boolean ok = true;
        if ((control & DMA_READ) != 0) {
            ok = dmaRead(target, length & 0xFFFF_FFFFL);
        } else if ((control & DMA_WRITE) != 0) {
            ok = false; // no item is writable
        } else if ((control & DMA_SKIP) != 0) {
            offset = (int) Math.min(Integer.MAX_VALUE, offset + (length & 0xFFFF_FFFFL));
        }
        try {
            dma.writeU32(address, Integer.reverseBytes(ok ? 0 : DMA_ERROR));
        } catch (GuestMemoryException e) {
            // the structure was readable a moment ago; nothing more to tell the guest
        }
    }

    /** Copies {@code length} bytes of the selected item (zeros past its end) to {@code target}. */
    private boolean dmaRead(long target, long length) {
        byte[] item = items.get(selector & ~0x4000);
        byte[] chunk = new byte[(int) Math.min(length, DMA_CHUNK)];
        long done = 0;
        try {
            while (done < length) {
                int n = (int) Math.min(chunk.length, length - done);
                int have = item == null ? 0 : Math.max(0, Math.min(n, item.length - offset));
                if (have > 0) {
                    System.arraycopy(item, offset, chunk, 0, have);
                    offset += have;
                }
                java.util.Arrays.fill(chunk, have, n, (byte) 0);
                dma.write(target + done, chunk, 0, n);
                done += n;
            }
        } catch (GuestMemoryException e) {
            return false;
        }
        return true;
    }

    @Override
    public synchronized FwCfgState saveState() {
        return new FwCfgState(selector, offset, dmaAddress);
    }

    @Override
    public synchronized void restoreState(FwCfgState s) throws DeviceStateException {
        DeviceStateException.checkRange("fw_cfg", "selector", s.selector(), 0, 0xFFFF);
        DeviceStateException.checkRange("fw_cfg", "offset", s.offset(), 0, Integer.MAX_VALUE);
        selector = s.selector();
        offset = s.offset();
        dmaAddress = s.dmaAddress();
    }

    @Override
    public Class<FwCfgState> stateType() {
        return FwCfgState.class;
    }
}
