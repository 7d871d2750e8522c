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
 * and the PIIX3 PCI-to-ISA bridge; on q35, the Q35 host bridge and the ICH9 LPC bridge, as a
 * directly booted Linux has them and as firmware does (PCIEXBAR, PAM at 0x90, SMRAM at 0x9D, PMBASE).
 * The invariants: nothing escapes an access and a read holds no bits beyond its size; no write
 * changes a function's identity (vendor, device, revision, class, header type); the PAM and SMRAM
 * registers hold only their defined bits, and the write protection the host bridge last reported
 * for the BIOS area is what its PAM registers, read back, say (82441FX datasheet 3.2.18); the ECAM
 * window is where PCIEXBAR, read back, puts it, or nowhere; a reset is asked for exactly when 0xCF9
 * gets a byte with RST_CPU; each function's saved state restores into a twin and saves again
 * unchanged (the twin's window where the original's is); after the bus reset the PAM registers are
 * closed again (every segment read-only), SMRAM is at its reset value and no PCIEXBAR window is left.
 */
class ChipsetFuzzTest {
    private static final long ECAM = 0xE000_0000L;
    private static final int[] REGS = {0x00, 0x02, 0x04, 0x06, 0x08, 0x0C, 0x0E, 0x10, 0x2C, 0x34, 0x3C, 0x40, 0x44, 0x48,
        0x4C, 0x58, 0x59, 0x5A, 0x5C, 0x5E, 0x5F, 0x60, 0x61, 0x62, 0x63, 0x70, 0x72, 0x80, 0x90, 0xA0, 0xD0, 0xF0, 0xFC};

    /** Which chipset a board has. */
    private enum Chipset { I440FX, Q35, Q35_FIRMWARE }

    /** One board: its bus, the functions to check, and what they told the platform. */
    private static final class Board {
        final AddressSpace io = new AddressSpace("io", 0x10000);
        final AddressSpace memory = new AddressSpace("memory", 1L << 40);
        final int[] protection = {-1};
        final int[] resets = new int[1];
        final PciHostBridge bridge;
        /** The host bridge with PAM registers at {@link #pam0} and SMRAM at {@link #smram}, or null. */
        final PciDevice pamHost;
        final int pam0;
        final int smram;
        final boolean pciexbar;
        /** The chipset's functions and their device/function numbers on bus 0. */
        final List<PciDevice> functions;
        final int[] devfns;

        Board(Chipset chipset) {
            boolean q35 = chipset != Chipset.I440FX;
            pciexbar = chipset == Chipset.Q35_FIRMWARE;
            PciDevice host = switch (chipset) {
                case I440FX -> new I440fxHostBridge(segments -> protection[0] = segments);
                case Q35 -> new Q35HostBridge();
                case Q35_FIRMWARE -> Q35HostBridge.forFirmware(segments -> protection[0] = segments,
                    new Q35HostBridge.EcamMapping() {
                        @Override
                        public void map(long base, int buses) {
                            bridge().registerEcam(base, buses);
                        }

                        @Override
                        public void unmap() {
                            bridge().unregisterEcam();
                        }
                    });
            };
            pamHost = chipset == Chipset.Q35 ? null : host;
            pam0 = q35 ? Q35HostBridge.PAM0 : I440fxHostBridge.PAM0;
            smram = q35 ? Q35HostBridge.SMRAM : I440fxHostBridge.SMRAM;
            PciDevice isa = chipset == Chipset.Q35_FIRMWARE ? Ich9LpcBridge.withPmBase(0x600)
                : q35 ? new Ich9LpcBridge() : new Piix3IsaBridge();
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
            if (!pciexbar) {
                bridge.registerEcam(ECAM, 1);
            }
        }

        PciHostBridge bridge() {
            return bridge;
        }

        /** The ECAM window registered now: "base+size", or "none". */
        String ecamWindow() {
            return memory.regions().stream().filter(r -> r.owner().equals("pci-ecam"))
                .map(r -> String.format("%#x+%#x", r.base(), r.size())).findFirst().orElse("none");
        }
    }

    @FuzzTest(maxDuration = "60s")
    void i440fx(FuzzedDataProvider data) throws DeviceStateException {
        run(data, Chipset.I440FX);
    }

    @FuzzTest(maxDuration = "60s")
    void q35(FuzzedDataProvider data) throws DeviceStateException {
        run(data, Chipset.Q35);
    }

    @FuzzTest(maxDuration = "60s")
    void q35Firmware(FuzzedDataProvider data) throws DeviceStateException {
        run(data, Chipset.Q35_FIRMWARE);
    }

    private static void run(FuzzedDataProvider data, Chipset chipset) throws DeviceStateException {
        Board board = new Board(chipset);
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
                    // the default window, or where PCIEXBAR may have put one (SeaBIOS's 0xB0000000)
                    long at = (board.pciexbar && data.consumeBoolean() ? 0xB000_0000L : ECAM) + ((long) devfn << 12) + reg;
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
            if (board.pamHost != null) {
                checkPam(board);
            }
            if (board.pciexbar) {
                assertEquals(expectedEcam(board), board.ecamWindow(), "the ECAM window PCIEXBAR describes");
            }
        }
        Board twin = new Board(chipset);
        List<PciDevice> twins = twin.functions;
        for (int f = 0; f < functions.size(); f++) {
            PciFunctionState saved = functions.get(f).saveState();
            twins.get(f).restoreState(saved);
            assertEquals(saved, twins.get(f).saveState(), "save -> restore -> save of " + functions.get(f).label());
        }
        if (board.pamHost != null) {
            assertEquals(board.protection[0], twin.protection[0], "BIOS area protection after restore");
        }
        if (board.pciexbar) {
            assertEquals(board.ecamWindow(), twin.ecamWindow(), "ECAM window after restore");
        }
        for (PciDevice d : functions) {
            d.reset();
        }
        if (board.pamHost != null) {
            checkPam(board);
            assertEquals(0xFFFF, board.protection[0], "BIOS area protection after reset");
            assertEquals(PamRegisters.SMRAM_RESET, board.pamHost.readConfig(board.smram, 1), "SMRAM after reset");
        }
        if (board.pciexbar) {
            assertEquals("none", board.ecamWindow(), "no ECAM window after reset");
        }
    }

    /** The window PCIEXBAR, read back, describes (Intel 3 Series datasheet 5.1.11). */
    private static String expectedEcam(Board board) {
        long bar = board.pamHost.readConfig(Q35HostBridge.PCIEXBAR, 4) & 0xFFFF_FFFFL
            | (board.pamHost.readConfig(Q35HostBridge.PCIEXBAR + 4, 4) & 0xFFFF_FFFFL) << 32;
        assertEquals(0, bar & ~0xF_FC00_0007L, String.format("PCIEXBAR = %#x holds reserved bits", bar));
        int length = (int) (bar >>> 1) & 3;
        if ((bar & 1) == 0 || length == 3) {
            return "none";
        }
        long size = 256L << 20 >> length;
        return String.format("%#x+%#x", bar & 0xF_FC00_0000L & -size, size);
    }

    /** PAM and SMRAM hold their defined bits only, and the protection reported matches the PAM write enables. */
    private static void checkPam(Board board) {
        PciDevice host = board.pamHost;
        int readOnly = 0;
        for (int p = 0; p < I440fxHostBridge.PAM_COUNT; p++) {
            int pam = host.readConfig(board.pam0 + p, 1);
            assertEquals(0, pam & (p == 0 ? ~0x30 : ~0x33), String.format("PAM%d = %#x", p, pam));
            if (p == 0) {
                readOnly |= (pam & 0x20) == 0 ? 0xF000 : 0; // 0xF0000-0xFFFFF
            } else {
                readOnly |= ((pam & 0x02) == 0 ? 1 : 0) << (2 * (p - 1));
                readOnly |= ((pam & 0x20) == 0 ? 1 : 0) << (2 * (p - 1) + 1);
            }
        }
        assertEquals(readOnly, board.protection[0], "BIOS area protection reported");
        int smram = host.readConfig(board.smram, 1);
        assertEquals(PamRegisters.SMRAM_RESET, smram & 0x07, String.format("SMRAM C_BASE_SEG, SMRAM = %#x", smram));
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
