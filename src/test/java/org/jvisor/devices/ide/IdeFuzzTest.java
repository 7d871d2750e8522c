package org.jvisor.devices.ide;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;


import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.pci.PciFunctionState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;

/**
 * Fuzzes the PIIX3 IDE function as a guest reaches it: both channels' command and control
 * blocks and the bus master registers (any port, size, value and order), biased towards real
 * ATA opcodes, ATAPI packets and PRD tables the fuzzer writes into guest RAM (pointing anywhere).
 * A disk and a CD-ROM sit on the primary channel, a read-only disk on the secondary. Nothing may
 * escape an access, a read holds no bits beyond its size, no drive asks its image for bytes
 * outside it or writes a read-only one, and the state saved at the end restores into a twin
 * (through the snapshot encoding) and saves again unchanged; a reset leaves both lines low.
 */
class IdeFuzzTest {
    private static final int BMDMA = 0xC000;
    private static final int[] PORTS = {0x1F0, 0x1F1, 0x1F2, 0x1F3, 0x1F4, 0x1F5, 0x1F6, 0x1F7, 0x3F6,
        0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176, 0x177, 0x376,
        BMDMA, BMDMA + 2, BMDMA + 4, BMDMA + 8, BMDMA + 10, BMDMA + 12};
    private static final int[] OPCODES = {0xEC, 0xA1, 0xA0, 0x20, 0x24, 0x29, 0x30, 0x34, 0x39, 0xC4, 0xC5, 0xC6, 0xC8,
        0x25, 0xCA, 0x35, 0xE7, 0xEA, 0xEF, 0x91, 0x90, 0x08, 0x40, 0x42, 0xF8, 0x27, 0xE5, 0x00};
    private static final int[] PACKETS = {0x00, 0x03, 0x12, 0x1B, 0x1E, 0x25, 0x28, 0x2B, 0x43, 0x46, 0x4A, 0x5A, 0xA8,
        0xBB, 0xBE};


    /** A controller with the fuzz drives, its ports in {@code io}. */
    private static Piix3Ide controller(GuestMemory ram, AddressSpace io, boolean[] lines) {
        Piix3Ide ide = new Piix3Ide(level -> lines[0] = level, level -> lines[1] = level, new IdentityDma(ram));
        ide.channel(0).attach(0, new AtaDisk(new org.jvisor.testing.BoundedDisk(64 * 512, false), 1, msg -> { }));
        ide.channel(0).attach(1, new AtapiCdrom(new org.jvisor.testing.BoundedDisk(8 * 2048, true), 2, msg -> { }));
        ide.channel(1).attach(0, new AtaDisk(new org.jvisor.testing.BoundedDisk(40 * 512 + 100, true), 3, msg -> { }));
        ide.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_IO | PciDevice.COMMAND_BUS_MASTER);
        ide.registerLegacyPorts(io);
        io.register("bmdma", BMDMA, Piix3Ide.BUS_MASTER_SIZE, ide.bar(Piix3Ide.BUS_MASTER_BAR).device());
        return ide;
    }

    @FuzzTest(maxDuration = "60s")
    void registers(FuzzedDataProvider data) throws DeviceStateException {
        try (GuestMemory ram = GuestMemory.allocate(GuestMemory.MIN_SIZE)) {
            AddressSpace io = new AddressSpace("io", 0x10000);
            boolean[] lines = new boolean[2];
            Piix3Ide ide = controller(ram, io, lines);
            for (int i = 0; i < 200 && data.remainingBytes() > 0; i++) {
                int channel = data.consumeBoolean() ? 0x1F0 : 0x170;
                switch (data.consumeInt(0, 9)) {
                    case 0 -> io.write(channel + 7, 1, OPCODES[data.consumeInt(0, OPCODES.length - 1)]);
                    case 1 -> {
                        // PACKET, then a command packet through the data port
                        io.write(channel + 7, 1, 0xA0);
                        io.write(channel, 2, PACKETS[data.consumeInt(0, PACKETS.length - 1)]
                            | data.consumeInt(0, 255) << 8);
                        for (int w = 0; w < 5; w++) {
                            io.write(channel, 2, data.consumeInt(0, 0xFFFF));
                        }
                    }
                    case 2 -> {
                        // a PRD table somewhere in (or past) RAM
                        long at = data.consumeLong(0, ram.size() - 64) & ~7L;
                        int entries = data.consumeInt(1, 4);
                        for (int e = 0; e < entries; e++) {
                            ram.writeU32(at + 8L * e, data.consumeBoolean() ? data.consumeInt(0, (int) ram.size())
                                : data.consumeInt());
                            ram.writeU32(at + 8L * e + 4, data.consumeInt(0, 0x1_0000) | (e == entries - 1 ? 1 << 31 : 0));
                        }
                        io.write(BMDMA + (channel == 0x1F0 ? 0 : 8) + 4, 4, at);
                    }
                    case 3 -> {
                        // drain a data phase
                        int words = data.consumeInt(0, 1100);
                        for (int w = 0; w < words; w++) {
                            io.read(channel, 2);
                        }
                    }
                    default -> {
                        int port = PORTS[data.consumeInt(0, PORTS.length - 1)];
                        int size = 1 << data.consumeInt(0, 2);
                        if (data.consumeBoolean()) {
                            io.write(port, size, data.consumeLong() & ((1L << (8 * size)) - 1));
                        } else {
                            long v = io.read(port, size);
                            assertEquals(0, v >>> (8 * size), String.format("read of %d bytes at port %#x: %#x", size, port, v));
                        }
                    }
                }
            }
            PciFunctionState saved = ide.saveState();
            PciFunctionState decoded = (PciFunctionState) new StateDecoder(
                new StateEncoder().writeState(saved).toByteArray(), "fuzz").readState();
            boolean[] twinLines = new boolean[2];
            Piix3Ide twin = controller(ram, new AddressSpace("io", 0x10000), twinLines);
            twin.restoreState(decoded);
            assertEquals(saved, twin.saveState(), "save -> encode -> restore -> save");
            ide.reset();
            assertFalse(lines[0] || lines[1], "a reset leaves IRQ 14 and 15 low");
        }
    }
}
