package org.jvisor.devices.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.devices.PlatformControl;
import org.jvisor.devices.acpi.ResetControl;
import org.jvisor.devices.ide.Piix3IsaBridge;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.testing.RegisterFuzz;

/**
 * Fuzzes the chipset functions' configuration registers as a guest (or firmware) reaches them
 * through configuration mechanism #1 (0xCF8/0xCFC, any size and byte lane, with the PIIX reset
 * control register at 0xCF9 in between) and ECAM: on pc, the i440FX host bridge (PAM0-PAM6, SMRAM)
 * and the PIIX3 PCI-to-ISA bridge; on q35, the Q35 host bridge and the ICH9 LPC bridge. The
 * invariants: nothing escapes an access and a read holds no bits beyond its size; no write
 * changes a function's identity (vendor, device, revision, class, header type); the PAM and SMRAM
 * registers hold only their defined bits, and the write protection the i440FX last reported for
 * the BIOS area is what its PAM registers, read back, say (82441FX datasheet 3.2.18); a reset is
 * asked for exactly when 0xCF9 gets a byte with RST_CPU; each function's saved state restores
 * into a twin and saves again unchanged; after the bus reset the PAM registers are closed again
 * (every segment read-only) and SMRAM is at its reset value.
 */
class ChipsetFuzzTest {
    private static final long ECAM = 0xE000_0000L;
    private static final int[] REGS = {0x00, 0x02, 0x04, 0x06, 0x08, 0x0C, 0x0E, 0x10, 0x2C, 0x34, 0x3C, 0x40, 0x44, 0x48,
        0x4C, 0x58, 0x59, 0x5A, 0x5C, 0x5E, 0x5F, 0x60, 0x61, 0x62, 0x63, 0x70, 0x72, 0x80, 0x90, 0xA0, 0xD0, 0xF0, 0xFC};

    /** One board: its bus, the functions to check, and what they told the platform. */
    private static final class Board {
        final AddressSpace io = new AddressSpace("io", 0x10000);
        final AddressSpace memory = new AddressSpace("memory", 1L << 40);
        final int[] protection = {-1};
        final int[] resets = new int[1];
        final PciHostBridge bridge;
        final I440fxHostBridge i440fx;
        /** The chipset's functions and their device/function numbers on bus 0. */
        final List<PciDevice> functions;
        final int[] devfns;

        Board(boolean q35) {
            i440fx = q35 ? null : new I440fxHostBridge(segments -> protection[0] = segments);
            PciDevice host = q35 ? new Q35HostBridge() : i440fx;
            PciDevice isa = q35 ? new Ich9LpcBridge() : new Piix3IsaBridge();
            int isaSlot = q35 ? 0x1F : 1;
            bridge = new PciHostBridge(io, memory, (address, value) -> { }, PciIrqRouting.swizzled(16), gsi -> level -> { },
                host);
            bridge.add(isaSlot, 0, isa);
            functions = List.of(host, isa);
            devfns = new int[] {0, isaSlot << 3};
            bridge.registerPorts(new ResetControl(new PlatformControl() {
                @Override
                public void exit(int status, String reason) {
                    throw new AssertionError("exit: " + reason);
                }

                @Override
                public void reset(String reason) {
                    resets[0]++;
                }

                @Override
                public void powerOff(String reason) {
                    throw new AssertionError("power off: " + reason);
                }
            }));
            bridge.registerEcam(ECAM, 1);
        }
    }

    @FuzzTest(maxDuration = "60s")
    void i440fx(FuzzedDataProvider data) throws DeviceStateException {
        run(data, false);
    }

    @FuzzTest(maxDuration = "60s")
    void q35(FuzzedDataProvider data) throws DeviceStateException {
        run(data, true);
    }

    private static void run(FuzzedDataProvider data, boolean q35) throws DeviceStateException {
        Board board = new Board(q35);
        List<PciDevice> functions = board.functions;
        Identity[] identity = new Identity[functions.size()];
        for (int f = 0; f < identity.length; f++) {
            identity[f] = identity(functions.get(f));
        }
        int expectedResets = 0;
        BusDevice io = PciConfigFuzzTest.bus(board.io);
        BusDevice memory = PciConfigFuzzTest.bus(board.memory);
        for (int i = 0; i < 96 && data.remainingBytes() > 0; i++) {
            int devfn = data.consumeInt(0, 15) == 0 ? data.consumeInt(0, 255)
                : board.devfns[data.consumeInt(0, board.devfns.length - 1)];
            int reg = (int) RegisterFuzz.offset(data, data.consumeInt(0, 7) == 0 ? 0x1000 : 0x100, REGS);
            switch (data.consumeInt(0, 4)) {
                case 0, 1 -> {
                    io.write(PciHostBridge.CONFIG_ADDRESS_PORT, 4,
                        (PciHostBridge.CONFIG_ENABLE | devfn << 8 | (reg & 0xFC)) & 0xFFFF_FFFFL);
                    int size = 1 << data.consumeInt(0, 2);
                    int lane = data.consumeInt(0, 3);
                    if (data.consumeBoolean()) {
                        io.write(PciHostBridge.CONFIG_DATA_PORT + lane, size, RegisterFuzz.value(data, size));
                    } else {
                        RegisterFuzz.read(io, PciHostBridge.CONFIG_DATA_PORT + lane, size);
                    }
                }
                case 2 -> {
                    long at = ECAM + ((long) devfn << 12) + reg;
                    int size = 1 << data.consumeInt(0, 3);
                    if (data.consumeBoolean()) {
                        memory.write(at, size, RegisterFuzz.value(data, size));
                    } else {
                        RegisterFuzz.read(memory, at, size);
                    }
                }
                default -> {
                    // the 0xCF8-0xCFF ports at any size: CONFIG_ADDRESS, the reset control register
                    long port = PciHostBridge.CONFIG_ADDRESS_PORT + data.consumeInt(0, 7);
                    int size = 1 << data.consumeInt(0, 2);
                    if (data.consumeBoolean()) {
                        long value = RegisterFuzz.value(data, size);
                        io.write(port, size, value);
                        if (port == ResetControl.PORT && size == 1 && (value & ResetControl.RST_CPU) != 0) {
                            expectedResets++;
                        }
                    } else {
                        RegisterFuzz.read(io, port, size);
                    }
                }
            }
            assertEquals(expectedResets, board.resets[0], "resets asked for");
            for (int f = 0; f < identity.length; f++) {
                assertEquals(identity[f], identity(functions.get(f)), "identity of " + functions.get(f).label());
            }
            if (board.i440fx != null) {
                checkPam(board);
            }
        }
        Board twin = new Board(q35);
        List<PciDevice> twins = twin.functions;
        for (int f = 0; f < functions.size(); f++) {
            PciFunctionState saved = functions.get(f).saveState();
            twins.get(f).restoreState(saved);
            assertEquals(saved, twins.get(f).saveState(), "save -> restore -> save of " + functions.get(f).label());
        }
        if (board.i440fx != null) {
            assertEquals(board.protection[0], twin.protection[0], "BIOS area protection after restore");
        }
        for (PciDevice d : functions) {
            d.reset();
        }
        if (board.i440fx != null) {
            checkPam(board);
            assertEquals(0xFFFF, board.protection[0], "BIOS area protection after reset");
            assertEquals(I440fxHostBridge.SMRAM_RESET, board.i440fx.readConfig(I440fxHostBridge.SMRAM, 1), "SMRAM after reset");
        }
    }

    /** PAM and SMRAM hold their defined bits only, and the protection reported matches the PAM write enables. */
    private static void checkPam(Board board) {
        I440fxHostBridge host = board.i440fx;
        int readOnly = 0;
        for (int p = 0; p < I440fxHostBridge.PAM_COUNT; p++) {
            int pam = host.readConfig(I440fxHostBridge.PAM0 + p, 1);
            assertEquals(0, pam & (p == 0 ? ~0x30 : ~0x33), String.format("PAM%d = %#x", p, pam));
            if (p == 0) {
                readOnly |= (pam & 0x20) == 0 ? 0xF000 : 0; // 0xF0000-0xFFFFF
            } else {
                readOnly |= ((pam & 0x02) == 0 ? 1 : 0) << (2 * (p - 1));
                readOnly |= ((pam & 0x20) == 0 ? 1 : 0) << (2 * (p - 1) + 1);
            }
        }
        assertEquals(readOnly, board.protection[0], "BIOS area protection reported");
        int smram = host.readConfig(I440fxHostBridge.SMRAM, 1);
        assertEquals(I440fxHostBridge.SMRAM_RESET, smram & 0x07, String.format("SMRAM C_BASE_SEG, SMRAM = %#x", smram));
        assertEquals(0, smram & ~0x7F, String.format("SMRAM = %#x", smram));
    }

    /** Vendor and device ID, revision and class code, header type. */
    private record Identity(int ids, int classRevision, int headerType) {
    }

    private static Identity identity(PciDevice d) {
        return new Identity(d.readConfig(PciDevice.VENDOR_ID, 4), d.readConfig(PciDevice.REVISION_ID, 4),
            d.readConfig(PciDevice.HEADER_TYPE, 1));
    }
}
