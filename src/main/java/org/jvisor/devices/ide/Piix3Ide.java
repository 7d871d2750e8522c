package org.jvisor.devices.ide;

import org.jvisor.devices.pci.PciBarRegion;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.IrqLine;

/**
 * The IDE function of Intel's PIIX3 (82371SB function 1, 8086:7010) as QEMU's pc machine has it
 * (hw/ide/piix.c): class 0x0101 with programming interface 0x80 (both channels in ISA
 * compatibility mode, bus mastering supported), so the channels sit at the legacy ports whatever
 * BARs 0-3 say (they are not implemented), on ISA IRQ 14 and 15, and no INTx pin; BAR4 is the
 * 16-byte bus master block (primary at +0, secondary at +8). STATUS reads DEVSEL medium and fast
 * back-to-back; IDETIM (0x40-0x43) and the rest of 0x40-0xFF are plain read-write, as QEMU leaves
 * device-specific configuration, with IDETIM's decode enables (bit 15) set at reset as the BIOS
 * leaves them on a PC (Linux's ata_piix skips a channel whose enable is clear).
 */
public final class Piix3Ide extends PciDevice {
    public static final int VENDOR = 0x8086;
    public static final int DEVICE = 0x7010;
    public static final int CLASS = 0x01_01_80;
    /** QEMU's subsystem IDs for its pc devices: Red Hat, "QEMU Virtual Machine". */
    public static final int SUBSYSTEM_VENDOR = 0x1AF4;
    public static final int SUBSYSTEM = 0x1100;
    public static final int BUS_MASTER_BAR = 4;
    public static final int BUS_MASTER_SIZE = 16;
    /** IDETIM of the primary and secondary channel (PIIX3 datasheet, 2.3.9). */
    public static final int IDETIM_PRIMARY = 0x40;
    public static final int IDETIM_SECONDARY = 0x42;
    static final int IDETIM_DECODE_ENABLE = 0x8000;
    static final int STATUS_DEVSEL_MEDIUM_FAST_BACK = 0x0280;

    /** The legacy channel resources: command block base, control port, ISA IRQ. */
    public record LegacyChannel(int commandBase, int controlPort, int irq) {
    }

    public static final LegacyChannel PRIMARY = new LegacyChannel(0x1F0, 0x3F6, 14);
    public static final LegacyChannel SECONDARY = new LegacyChannel(0x170, 0x376, 15);

    private final IdeChannel[] channels;

    /**
     * @param primaryIrq   ISA IRQ 14's wire
     * @param secondaryIrq ISA IRQ 15's wire
     * @param dma          guest memory as the bus master reaches it
     */
    public Piix3Ide(IrqLine primaryIrq, IrqLine secondaryIrq, DmaSpace dma) {
        super(VENDOR, DEVICE, CLASS, 0);
        setSubsystem(SUBSYSTEM_VENDOR, SUBSYSTEM);
        channels = new IdeChannel[] {new IdeChannel("ide0", primaryIrq, dma), new IdeChannel("ide1", secondaryIrq, dma)};
        for (IdeChannel c : channels) {
            c.busMasterGate(this::busMasterEnabled);
        }
        config().set16(STATUS, STATUS_DEVSEL_MEDIUM_FAST_BACK);
        for (int o = 0x40; o < 0x100; o += 4) {
            config().setWritable(o, 4, -1);
        }
        setIdeTimings();
        setBar(BUS_MASTER_BAR, PciBarRegion.io("bmdma", BUS_MASTER_SIZE, new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return channels[(int) (offset >>> 3) & 1].readBusMaster((int) offset & 7, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                channels[(int) (offset >>> 3) & 1].writeBusMaster((int) offset & 7, size, value);
            }
        }));
    }

    /** Channel 0 (primary) or 1 (secondary). */
    public IdeChannel channel(int index) {
        return channels[index];
    }

    /** Registers both channels at their legacy ports in {@code io}. */
    public void registerLegacyPorts(AddressSpace io) {
        LegacyChannel[] legacy = {PRIMARY, SECONDARY};
        for (int i = 0; i < 2; i++) {
            io.register("ide" + i, legacy[i].commandBase(), 8, channels[i].commandBlock());
            io.register("ide" + i + " control", legacy[i].controlPort(), 1, channels[i].controlBlock());
        }
    }

    private void setIdeTimings() {
        config().set16(IDETIM_PRIMARY, IDETIM_DECODE_ENABLE);
        config().set16(IDETIM_SECONDARY, IDETIM_DECODE_ENABLE);
    }

    @Override
    protected void resetDevice() {
        setIdeTimings();
        for (IdeChannel c : channels) {
            c.reset();
        }
    }

    @Override
    protected DeviceState saveModelState() {
        return new Piix3IdeState(channels[0].save(), channels[1].save());
    }

    @Override
    protected void restoreModelState(DeviceState state) throws DeviceStateException {
        if (!(state instanceof Piix3IdeState s)) {
            throw DeviceStateException.wrongKind(label(), Piix3IdeState.class, state);
        }
        channels[0].restore(s.primary());
        channels[1].restore(s.secondary());
    }
}
