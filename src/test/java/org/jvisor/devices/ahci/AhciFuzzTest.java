package org.jvisor.devices.ahci;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashSet;
import java.util.Set;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.devices.ide.AtaDisk;
import org.jvisor.devices.ide.AtapiCdrom;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.pci.PciFunctionState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;
import org.jvisor.testing.BoundedDisk;
import org.jvisor.testing.RamWriteCheck;
import org.jvisor.testing.RegisterFuzz;

/**
 * Fuzzes the ICH9 AHCI function as a guest reaches it: ABAR's host and port registers and the
 * index/data pair in BAR4 (any offset, size, value and order), and the structures the HBA reads
 * from guest RAM, which the fuzzer writes: command headers (any CFL, ATAPI and write flags,
 * PRDTL), command tables whose Register H2D FIS carries real ATA opcodes (NCQ ones included) or
 * anything, ATAPI packets, and PRDTs pointing anywhere, with command lists and received-FIS areas
 * where the fuzzer puts them (in RAM, at its end or beyond). A disk, a CD-ROM and a read-only
 * disk sit on ports 0-2. Invariants: nothing escapes an access; a read holds no bits beyond its
 * size; no drive asks its image for bytes outside it or writes a read-only one; the HBA writes
 * guest RAM only in a received-FIS area, a header's PRDBC or a region of a PRDT the guest built;
 * the state saved at the end restores into a twin and saves again unchanged; an HBA reset stops
 * every port (PxCI, PxIS and IS read 0) and drops INTx.
 */
class AhciFuzzTest {
    private static final long RAM = GuestMemory.MIN_SIZE;
    /** Where the fuzzer's command lists, received-FIS areas, tables and data usually go. */
    private static final long LISTS = 0x10000;
    private static final long TABLES = 0x40000;
    private static final long DATA = 0x100000;
    private static final int[] OPCODES = {0xEC, 0xA1, 0xA0, 0x20, 0x24, 0x25, 0x30, 0x34, 0x35, 0xC8, 0xCA, 0xC4, 0xC5,
        0x60, 0x61, 0xE7, 0xEA, 0xEF, 0x91, 0xF8, 0x27, 0x40, 0x42, 0x00, 0x08};
    private static final int[] PACKETS = {0x00, 0x03, 0x12, 0x1B, 0x1E, 0x25, 0x28, 0x43, 0x46, 0x4A, 0x5A, 0xA8, 0xBE};
    private static final int[] PORT_REGS = new int[PortRegister.values().length];
    private static final int[] HBA_REGS = new int[HbaRegister.values().length];

    static {
        for (PortRegister r : PortRegister.values()) {
            PORT_REGS[r.ordinal()] = r.offset;
        }
        for (HbaRegister r : HbaRegister.values()) {
            HBA_REGS[r.ordinal()] = r.offset;
        }
    }

    /** An AHCI function with the fuzz drives, I/O, memory and bus master enabled. */
    private static Ich9Ahci controller(GuestMemory ram) {
        Ich9Ahci ahci = new Ich9Ahci("ahci0", new IdentityDma(ram), msg -> { });
        ahci.attach(0, new AtaDisk(new BoundedDisk(64 * 512, false), 1, msg -> { }));
        ahci.attach(1, new AtapiCdrom(new BoundedDisk(8 * 2048, true), 2, msg -> { }));
        ahci.attach(2, new AtaDisk(new BoundedDisk(40 * 512 + 100, true), 3, msg -> { }));
        ahci.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_IO | PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_BUS_MASTER);
        return ahci;
    }

    /** A structure's address: mostly in its area, sometimes at the end of RAM, beyond it, or anything. */
    private static long place(FuzzedDataProvider data, long area, long stride, long align) {
        return switch (data.consumeInt(0, 11)) {
            case 0 -> (RAM - data.consumeInt(0, 0x400)) & -align;
            case 1 -> data.consumeLong() & -align;
            case 2 -> RAM + 0x400L * data.consumeInt(0, 64);
            default -> area + stride * data.consumeInt(0, 31);
        };
    }

    @FuzzTest(maxDuration = "60s")
    void hba(FuzzedDataProvider data) throws DeviceStateException {
        try (GuestMemory ram = GuestMemory.allocate(RAM)) {
            RamWriteCheck writes = new RamWriteCheck(ram);
            Ich9Ahci ahci = controller(ram);
            AhciHba hba = ahci.hba();
            BusDevice indexData = ahci.bar(Ich9Ahci.INDEX_DATA_BAR).device();
            // every command list and received-FIS area the HBA was given, for the write check
            Set<Long> lists = new HashSet<>();
            Set<Long> fisAreas = new HashSet<>();
            for (int i = 0; i < 120 && data.remainingBytes() > 0; i++) {
                int port = data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 7) : data.consumeInt(0, 2);
                long portBase = AhciHba.PORTS_OFFSET + (long) port * AhciHba.PORT_SIZE;
                switch (data.consumeInt(0, 11)) {
                    case 0 -> RegisterFuzz.access(data, hba, AhciHba.ABAR_SIZE, HBA_REGS);
                    case 1, 2 -> {
                        long at = portBase + RegisterFuzz.offset(data, AhciHba.PORT_SIZE, PORT_REGS);
                        int size = RegisterFuzz.size(data);
                        if (data.consumeBoolean()) {
                            hba.write(at, size, RegisterFuzz.value(data, size));
                        } else {
                            RegisterFuzz.read(hba, at, size);
                        }
                    }
                    case 3 -> RegisterFuzz.access(data, indexData, 32, new int[] {Ich9Ahci.INDEX, Ich9Ahci.DATA});
                    case 4 -> {
                        // libahci's start: bases, FRE, interrupts enabled, ST
                        long clb = place(data, LISTS, 0x1000, 0x400);
                        long fb = data.consumeBoolean() ? clb + 0x800 : place(data, LISTS + 0x800, 0x1000, 0x100);
                        hba.writeDword(HbaRegister.GHC.offset, data.consumeInt(0, 3) | Ahci.GHC_AE);
                        portWrite(hba, port, PortRegister.CLB, (int) clb);
                        portWrite(hba, port, PortRegister.CLBU, (int) (clb >>> 32));
                        portWrite(hba, port, PortRegister.FB, (int) fb);
                        portWrite(hba, port, PortRegister.FBU, (int) (fb >>> 32));
                        portWrite(hba, port, PortRegister.CMD, Ahci.CMD_SUD | Ahci.CMD_POD | Ahci.CMD_FRE);
                        portWrite(hba, port, PortRegister.IS, -1);
                        portWrite(hba, port, PortRegister.IE, data.consumeBoolean() ? Ahci.IS_MASK : data.consumeInt());
                        portWrite(hba, port, PortRegister.CMD, Ahci.CMD_SUD | Ahci.CMD_POD | Ahci.CMD_FRE | Ahci.CMD_ST);
                    }
                    case 5, 6, 7 -> command(data, writes, hba, port);
                    case 8 -> {
                        // issue: one slot, several, or anything
                        int ci = data.consumeBoolean() ? 1 << data.consumeInt(0, 31) : data.consumeInt();
                        if (data.consumeInt(0, 3) == 0) {
                            portWrite(hba, port, PortRegister.SACT, ci);
                        }
                        portWrite(hba, port, PortRegister.CI, ci);
                    }
                    case 9 -> {
                        // error recovery as libahci does it: ST off, IS and SERR cleared, ST on; or COMRESET
                        if (data.consumeBoolean()) {
                            portWrite(hba, port, PortRegister.CMD, Ahci.CMD_SUD | Ahci.CMD_POD | Ahci.CMD_FRE);
                            portWrite(hba, port, PortRegister.IS, -1);
                            portWrite(hba, port, PortRegister.SERR, -1);
                            portWrite(hba, port, PortRegister.CMD, Ahci.CMD_SUD | Ahci.CMD_POD | Ahci.CMD_FRE | Ahci.CMD_ST);
                        } else {
                            portWrite(hba, port, PortRegister.SCTL, Ahci.SCTL_DET_COMRESET);
                            portWrite(hba, port, PortRegister.SCTL, 0);
                        }
                    }
                    case 10 -> {
                        // anything anywhere in the structure areas
                        long at = data.consumeLong(LISTS, RAM - 64);
                        writes.putBytes(at, data.consumeBytes(64));
                    }
                    default -> {
                        // a data buffer's contents (what a write command sends)
                        long at = DATA + data.consumeLong(0, RAM - DATA - 4096);
                        writes.putBytes(at, data.consumeBytes(data.consumeInt(0, 4096)));
                    }
                }
                for (int p = 0; p < Ich9Ahci.PORTS; p++) {
                    lists.add(base(hba, p, PortRegister.CLB, PortRegister.CLBU));
                    fisAreas.add(base(hba, p, PortRegister.FB, PortRegister.FBU));
                }
            }
            Set<Region> allowed = allowed(ram, lists, fisAreas);
            writes.check(addr -> {
                long end = addr;
                for (Region r : allowed) {
                    if (addr >= r.at() && addr - r.at() < r.length()) {
                        end = Math.max(end, r.at() + r.length());
                    }
                }
                return end;
            });

            PciFunctionState saved = ahci.saveState();
            PciFunctionState decoded = (PciFunctionState) new StateDecoder(
                new StateEncoder().writeState(saved).toByteArray(), "fuzz").readState();
            Ich9Ahci twin = controller(ram);
            twin.restoreState(decoded);
            assertEquals(saved, twin.saveState(), "save -> encode -> restore -> save");
            hba.writeDword(HbaRegister.GHC.offset, Ahci.GHC_HR);
            assertEquals(0, hba.readDword(HbaRegister.IS.offset), "IS after an HBA reset");
            for (int p = 0; p < Ich9Ahci.PORTS; p++) {
                assertEquals(0, portRead(hba, p, PortRegister.CI), "port " + p + " PxCI after an HBA reset");
                assertEquals(0, portRead(hba, p, PortRegister.IS), "port " + p + " PxIS after an HBA reset");
            }
            assertEquals(0, ahci.readConfig(PciDevice.STATUS, 2) & PciDevice.STATUS_INTERRUPT, "INTx after an HBA reset");
        }
    }

    /**
     * A command in a slot of the port's list (where CLB points, or where the fuzzer guesses it
     * points): the header, a command table with a Register H2D FIS (or other bytes), the ATAPI
     * packet and the PRDT, written the way a driver does. Does not issue it.
     */
    private static void command(FuzzedDataProvider data, RamWriteCheck writes, AhciHba hba, int port) {
        long clb = base(hba, port, PortRegister.CLB, PortRegister.CLBU);
        int slot = data.consumeInt(0, 31);
        long header = clb + 32L * slot;
        long table = data.consumeInt(0, 7) == 0 ? data.consumeLong() : TABLES + 0x1000L * data.consumeInt(0, 127) % (DATA - TABLES);
        int entries = data.consumeInt(0, 15) == 0 ? data.consumeInt(0, 0xFFFF) : data.consumeInt(0, 4);
        boolean atapi = data.consumeInt(0, 3) == 0;
        int dw0 = (data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 31) : 5) | (atapi ? Ahci.HEADER_ATAPI : 0)
            | (data.consumeBoolean() ? Ahci.HEADER_WRITE : 0) | entries << 16;
        if (!writes.ram().isRam(header, 16)) {
            return;
        }
        writes.put32(header, dw0);
        writes.put32(header + 4, 0);
        writes.put64(header + 8, table);
        long t = table & Ahci.TABLE_ALIGN_MASK;
        if (!writes.ram().isRam(t, Ahci.TABLE_PRDT)) {
            return;
        }
        byte[] fis = new byte[20];
        if (data.consumeInt(0, 7) == 0) {
            fis = data.consumeBytes(20);
        } else {
            fis[0] = (byte) Fis.TYPE_REGISTER_H2D;
            fis[1] = (byte) (data.consumeInt(0, 7) == 0 ? 0 : 0x80); // C: a command, else device control
            int op = atapi ? 0xA0 : OPCODES[data.consumeInt(0, OPCODES.length - 1)];
            fis[2] = (byte) op;
            int count = data.consumeInt(0, 9) == 0 ? data.consumeInt(0, 0xFFFF) : data.consumeInt(0, 9);
            long lba = data.consumeInt(0, 3) == 0 ? data.consumeLong() : data.consumeInt(0, 80);
            // NCQ commands carry the count in FEATURES
            fis[3] = (byte) (op == Ahci.READ_FPDMA_QUEUED || op == Ahci.WRITE_FPDMA_QUEUED ? count : data.consumeInt(0, 255));
            fis[11] = (byte) (op == Ahci.READ_FPDMA_QUEUED || op == Ahci.WRITE_FPDMA_QUEUED ? count >> 8 : 0);
            for (int b = 0; b < 6; b++) {
                fis[b < 3 ? 4 + b : 8 + b - 3] = (byte) (lba >>> (8 * b));
            }
            fis[7] = 0x40;
            fis[12] = (byte) count;
            fis[13] = (byte) (count >> 8);
        }
        writes.putBytes(t, fis);
        if (atapi) {
            byte[] packet = data.consumeBytes(16);
            if (packet.length > 0 && data.consumeInt(0, 3) != 0) {
                packet[0] = (byte) PACKETS[data.consumeInt(0, PACKETS.length - 1)];
            }
            writes.putBytes(t + Ahci.TABLE_ACMD, packet);
        }
        for (int e = 0; e < Math.min(entries, 8); e++) {
            long entry = t + Ahci.TABLE_PRDT + 16L * e;
            if (!writes.ram().isRam(entry, 16)) {
                break;
            }
            long dba = switch (data.consumeInt(0, 9)) {
                case 0 -> data.consumeLong();
                case 1 -> RAM - data.consumeInt(0, 4096);
                default -> DATA + 0x1000L * data.consumeInt(0, 200);
            };
            int dbc = data.consumeInt(0, 3) == 0 ? data.consumeInt() : data.consumeInt(0, 8) * 512 - 1;
            writes.put64(entry, dba);
            writes.put32(entry + 8, 0);
            writes.put32(entry + 12, dbc);
        }
    }

    /**
     * What the HBA may write, as {start, length}: every received-FIS area it was given (256
     * bytes), each slot's PRDBC in every command list it was given, and every region of the PRDT
     * each of those slots' headers names, read from RAM as it is now.
     */
    private static Set<Region> allowed(GuestMemory ram, Set<Long> lists, Set<Long> fisAreas) {
        Set<Region> allowed = new HashSet<>();
        for (long fb : fisAreas) {
            allowed.add(new Region(fb, 256));
        }
        for (long clb : lists) {
            for (int slot = 0; slot < Ahci.COMMAND_SLOTS; slot++) {
                long header = clb + 32L * slot;
                if (!ram.isRam(header, 16)) {
                    continue;
                }
                allowed.add(new Region(header + 4, 4));
                int entries = ram.readU32(header) >>> 16;
                long prdt = (ram.readU64(header + 8) & Ahci.TABLE_ALIGN_MASK) + Ahci.TABLE_PRDT;
                for (int e = 0; e < entries; e++) {
                    long entry = prdt + 16L * e;
                    if (entry < 0 || !ram.isRam(entry, 16)) {
                        break;
                    }
                    long dba = ram.readU64(entry) & ~1L;
                    long len = (ram.readU32(entry + 12) & AhciPrdt.DBC_MASK) + 1;
                    allowed.add(new Region(dba, len)); // a long table of zeros is one region many times over
                }
            }
        }
        return allowed;
    }

    /** Guest RAM the HBA may write: {@code length} bytes at {@code at}. */
    private record Region(long at, long length) {
    }

    /** A 64-bit base address from a port's low and high registers. */
    private static long base(AhciHba hba, int port, PortRegister low, PortRegister high) {
        return (portRead(hba, port, high) & 0xFFFF_FFFFL) << 32 | portRead(hba, port, low) & 0xFFFF_FFFFL;
    }

    private static int portRead(AhciHba hba, int port, PortRegister r) {
        return hba.readDword(AhciHba.PORTS_OFFSET + port * AhciHba.PORT_SIZE + r.offset);
    }

    private static void portWrite(AhciHba hba, int port, PortRegister r, int v) {
        hba.writeDword(AhciHba.PORTS_OFFSET + port * AhciHba.PORT_SIZE + r.offset, v);
    }
}
