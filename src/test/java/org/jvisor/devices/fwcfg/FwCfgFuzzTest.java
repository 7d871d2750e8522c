package org.jvisor.devices.fwcfg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;
import org.jvisor.testing.RamWriteCheck;
import org.jvisor.testing.RegisterFuzz;

/**
 * Fuzzes fw_cfg as a guest reaches it (QEMU docs/specs/fw_cfg.txt): selector writes, data
 * register reads of any size, DMA through the address register (all 8 bytes at once, or the
 * high half then the low one) with FWCfgDmaAccess structures the fuzzer builds anywhere (in RAM,
 * straddling its end, beyond it), any control bits, lengths and targets, and raw accesses to any
 * of the 12 ports. The test keeps its own reading of the device (the selected item and the
 * offset in it) and checks every byte the guest gets, by port or by DMA, against the items;
 * the control word written back is 0 exactly when the transfer could be done (the target in
 * RAM, no write), and DMA writes guest RAM only in the control word and the target range. A
 * state save restores into a twin that reads on identically.
 */
class FwCfgFuzzTest {
    private static final long RAM = GuestMemory.MIN_SIZE;
    private static final int[] KEYS = {FwCfgItems.SIGNATURE, FwCfgItems.ID, FwCfgItems.NB_CPUS, FwCfgItems.FILE_DIR,
        FwCfgItems.FILE_FIRST, FwCfgItems.FILE_FIRST + 1, FwCfgItems.FILE_FIRST + 2, FwCfgItems.FILE_FIRST + 3, 0x4000,
        0x8000, 0xFFFF};

    private static FwCfgItems items() {
        byte[] big = new byte[100_000]; // more than one 64 KiB DMA chunk
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 7 + (i >> 8));
        }
        return new FwCfgItems()
            .put(FwCfgItems.NB_CPUS, FwCfgItems.le(2, 2))
            .file("bootorder", "/pci@i0cf8/scsi@4/disk@0,0\n".getBytes(StandardCharsets.US_ASCII))
            .file("etc/e820", new byte[40])
            .file("etc/table-loader", big)
            .file("opt/x", new byte[] {1});
    }

    /** The test's reading of the device: item and offset, or unknown after a raw access. */
    private static final class Model {
        final Map<Integer, byte[]> items;
        int selector;
        int offset;
        boolean known = true;

        Model(Map<Integer, byte[]> items) {
            this.items = items;
        }

        void select(int key) {
            selector = key;
            offset = 0;
            known = true;
        }

        /** The next {@code n} bytes the data register or a DMA read gives (zeros past the item). */
        byte[] next(long n) {
            byte[] item = items.get(selector & ~0x4000);
            byte[] out = new byte[(int) n];
            int have = item == null ? 0 : (int) Math.max(0, Math.min(n, item.length - (long) offset));
            if (have > 0) {
                System.arraycopy(item, offset, out, 0, have);
                offset += have;
            }
            return out;
        }
    }

    @FuzzTest(maxDuration = "60s")
    void ports(FuzzedDataProvider data) throws DeviceStateException {
        try (GuestMemory ram = GuestMemory.allocate(RAM)) {
            FwCfgItems items = items();
            FwCfg fwcfg = new FwCfg(items, new IdentityDma(ram));
            AddressSpace io = new AddressSpace("io", 0x10000);
            io.register("fw_cfg", FwCfg.PORT_SELECTOR, FwCfg.SIZE, fwcfg);
            Model model = new Model(items.build());
            RamWriteCheck writes = new RamWriteCheck(ram);
            for (int i = 0; i < 64 && data.remainingBytes() > 0; i++) {
                switch (data.consumeInt(0, 7)) {
                    case 0, 1 -> {
                        int key = data.consumeInt(0, 3) == 0 ? data.consumeInt(0, 0xFFFF) : KEYS[data.consumeInt(0, KEYS.length - 1)];
                        io.write(FwCfg.PORT_SELECTOR, 2, key);
                        model.select(key);
                    }
                    case 2 -> {
                        int size = 1 << data.consumeInt(0, 2);
                        for (int n = data.consumeInt(1, 16); n > 0; n--) {
                            long v = io.read(FwCfg.PORT_DATA, size);
                            if (model.known) {
                                byte[] want = model.next(size);
                                for (int b = 0; b < size; b++) {
                                    assertEquals(want[b] & 0xFF, (v >>> (8 * b)) & 0xFF, "data register byte " + b);
                                }
                            }
                        }
                    }
                    case 3, 4, 5 -> dma(data, io, ram, writes, model);
                    default -> {
                        // anything on any port: the model is lost until the next select
                        long port = data.consumeInt(0, FwCfg.SIZE - 1);
                        int size = 1 << data.consumeInt(0, 3);
                        if (data.consumeBoolean()) {
                            fwcfg.write(port, size, RegisterFuzz.value(data, size));
                            model.known = false;
                            // a DMA at a random address: its writes are the structured DMAs' to check
                            writes.check(a -> RAM);
                        } else {
                            RegisterFuzz.read(fwcfg, port, size);
                            if (port == FwCfg.PORT_DATA - FwCfg.PORT_SELECTOR) {
                                model.known = false;
                            }
                        }
                    }
                }
            }
            // a saved state restores into a twin that reads on byte for byte the same
            FwCfg twin = new FwCfg(items, new IdentityDma(ram));
            twin.restoreState(fwcfg.saveState());
            assertEquals(fwcfg.saveState(), twin.saveState());
            for (int n = 0; n < 8; n++) {
                assertEquals(fwcfg.read(1, 1), twin.read(1, 1), "data register after restore");
            }
        }
    }

    /** One FWCfgDmaAccess run through the address register, checked against the model. */
    private static void dma(FuzzedDataProvider data, AddressSpace io, GuestMemory ram, RamWriteCheck writes, Model model) {
        long address = switch (data.consumeInt(0, 7)) {
            case 0 -> data.consumeLong();
            case 1 -> RAM - data.consumeInt(0, 24);
            default -> 0x1000L + 16L * data.consumeInt(0, 255);
        };
        int control = data.consumeInt(0, 3) == 0 ? data.consumeInt()
            : KEYS[data.consumeInt(0, KEYS.length - 1)] << 16 | data.consumeInt(0, 0x1F);
        int length = switch (data.consumeInt(0, 7)) {
            case 0 -> data.consumeInt();
            case 1 -> data.consumeInt(0, 200_000);
            default -> data.consumeInt(0, 128);
        };
        long target = switch (data.consumeInt(0, 7)) {
            case 0 -> data.consumeLong();
            case 1 -> RAM - data.consumeInt(0, 4096);
            default -> 0x10000L + data.consumeInt(0, 0x100000);
        };
        boolean structure = ram.isRam(address, 16);
        if (structure && data.consumeInt(0, 7) != 0) {
            writes.put32(address, Integer.reverseBytes(control));
            writes.put32(address + 4, Integer.reverseBytes(length));
            writes.put64(address + 8, Long.reverseBytes(target));
        } else if (structure) {
            // whatever RAM holds there (often an earlier structure, or zeros)
            control = Integer.reverseBytes(ram.readU32(address));
            length = Integer.reverseBytes(ram.readU32(address + 4));
            target = Long.reverseBytes(ram.readU64(address + 8));
        }
        if (data.consumeBoolean()) {
            io.write(FwCfg.PORT_DMA, 8, Long.reverseBytes(address));
        } else {
            io.write(FwCfg.PORT_DMA, 4, Integer.reverseBytes((int) (address >>> 32)) & 0xFFFF_FFFFL);
            io.write(FwCfg.PORT_DMA + 4, 4, Integer.reverseBytes((int) address) & 0xFFFF_FFFFL);
        }
        if (!structure) {
            writes.check(a -> a); // nothing to run: nothing written
            return;
        }
        long len = length & 0xFFFF_FFFFL;
        boolean read = (control & FwCfg.DMA_READ) != 0;
        boolean inRam = len == 0 || ram.isRam(target, len);
        long allowedTarget = read ? target : 0;
        long allowedLength = read ? len : 0;
        long at = address;
        writes.check(a -> {
            long end = a;
            if (a >= at && a < at + 4) {
                end = at + 4;
            }
            if (a - allowedTarget >= 0 && a - allowedTarget < allowedLength) {
                end = Math.max(end, allowedTarget + allowedLength);
            }
            return end;
        });
        if ((control & FwCfg.DMA_SELECT) != 0) {
            model.select(control >>> 16);
        }
        boolean ok = true;
        if (read) {
            ok = inRam;
            if (!inRam) {
                model.known = false; // how far the item's offset moved depends on where RAM ended
            } else if (model.known && len <= 256 * 1024) {
                byte[] want = model.next(len);
                boolean overlapsControl = target < address + 4 && address < target + len;
                if (!overlapsControl) {
                    byte[] got = new byte[(int) len];
                    ram.read(target, got, 0, got.length);
                    assertArrayEquals(want, got, "DMA read of " + len + " bytes");
                }
            } else {
                model.known = false;
            }
        } else if ((control & FwCfg.DMA_WRITE) != 0) {
            ok = false;
        } else if ((control & FwCfg.DMA_SKIP) != 0) {
            model.offset = (int) Math.min(Integer.MAX_VALUE, model.offset + len);
        }
        // written last, so whatever the data did to it
        assertEquals(ok ? 0 : FwCfg.DMA_ERROR, Integer.reverseBytes(ram.readU32(address)),
            String.format("control word written back (control %#x, length %d, target %#x)", control, len, target));
    }
}
