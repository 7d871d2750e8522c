package org.jvisor.devices.ahci;

import java.util.function.Consumer;

import org.jvisor.devices.ide.IdeDrive;
import org.jvisor.devices.pci.MsiCapability;
import org.jvisor.devices.pci.PciBarRegion;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.DmaSpace;

/**
 * Intel's ICH9 SATA controller in AHCI mode (8086:2922 revision 2, class 01:06:01) as QEMU's
 * {@code ich9-ahci} ({@code -device ahci}, and q35's built-in controller at 00:1f.2): six ports,
 * ABAR in BAR5 (4 KiB of memory), the AHCI index/data pair in BAR4 (32 bytes of I/O: the index at
 * 0x10, the data window at 0x14), INTA#, MSI with one 64-bit message, the SATA capability, and the
 * ICH9's address map register (0x90) reading "AHCI mode" as QEMU sets it.
 */
public final class Ich9Ahci extends PciDevice {
    public static final int VENDOR = 0x8086;
    public static final int DEVICE = 0x2922;
    public static final int CLASS = 0x01_06_01;
    public static final int REVISION = 0x02;
    public static final int PORTS = 6;
    public static final int ABAR = 5;
    public static final int INDEX_DATA_BAR = 4;
    static final int INDEX_DATA_SIZE = 32;
    /** The index register's offset in BAR4 (2^4), the data register follows. */
    static final int INDEX_LOG2 = 4;
    static final int INDEX = 1 << INDEX_LOG2;
    static final int DATA = INDEX + 4;
    /** ICH9 MAP (address map) register: SATA mode select "AHCI" (bits 7:6 = 01), as QEMU leaves it. */
    static final int MAP = 0x90;
    static final int MAP_AHCI = 0x40;

    private final AhciHba hba;
    private final MsiCapability msi;
    private volatile int index;

    /**
     * @param name the controller's name in log lines ("ahci0")
     * @param dma  guest memory as the HBA reaches it
     * @param log  where guest mistakes are reported
     */
    public Ich9Ahci(String name, DmaSpace dma, Consumer<String> log) {
        super(VENDOR, DEVICE, CLASS, REVISION);
        setSubsystem(0x1AF4, 0x1100);
        setInterruptPin(1);
        config().set8(CACHE_LINE_SIZE, 0x08);
        config().set8(MAP, MAP_AHCI);
        hba = new AhciHba(name, PORTS, dma, new AhciHba.Interrupt() {
            @Override
            public void level(boolean asserted) {
                intx().set(asserted);
            }

            @Override
            public void message() {
                msiCapability().notify(0);
            }
        }, log);
        msi = addCapability(new MsiCapability(1, false));
        addCapability(new SataCapability(INDEX_DATA_BAR, INDEX_LOG2));
        setBar(INDEX_DATA_BAR, PciBarRegion.io("ahci-idp", INDEX_DATA_SIZE, new BusDevice() {
            @Override
            public long read(long offset, int size) {
                // a narrower read sees its bytes of the dword, as ABAR's registers do
                long dword = readIndexData((int) offset & ~3) & 0xFFFF_FFFFL;
                long mask = size >= 4 ? 0xFFFF_FFFFL : (1L << (8 * size)) - 1;
                return (dword >>> (8 * (offset & 3))) & mask;
            }

            @Override
            public void write(long offset, int size, long value) {
                writeIndexData((int) offset, (int) value);
            }
        }));
        setBar(ABAR, PciBarRegion.memory32("ahci", AhciHba.ABAR_SIZE, false, hba));
    }

    private MsiCapability msiCapability() {
        return msi;
    }

    /** The HBA behind ABAR. */
    public AhciHba hba() {
        return hba;
    }

    /** Attaches {@code drive} to port {@code port} (QEMU's bus ide.N). */
    public void attach(int port, IdeDrive drive) {
        hba.attach(port, drive);
    }

    // The index/data pair (ICH9 14.3): ABAR through I/O ports. The index is volatile rather than
    // guarded by this function's monitor: the HBA drives INTx (which takes that monitor) under its
    // own lock, so holding the monitor while calling the HBA could deadlock two vCPUs.
    private int readIndexData(int offset) {
        int i = index;
        if (offset == INDEX) {
            return i;
        }
        return offset == DATA ? hba.readDword(i) : 0;
    }

    private void writeIndexData(int offset, int value) {
        if (offset == INDEX) {
            index = value & (AhciHba.ABAR_SIZE - 4);
        } else if (offset == DATA) {
            hba.writeDword(index, value);
        }
    }

    @Override
    protected void resetDevice() {
        index = 0;
        hba.reset();
    }

    @Override
    protected DeviceState saveModelState() {
        return new AhciState(hba.globalControl(), index, hba.save());
    }

    @Override
    protected void restoreModelState(DeviceState state) throws DeviceStateException {
        if (!(state instanceof AhciState s)) {
            throw DeviceStateException.wrongKind(label(), AhciState.class, state);
        }
        DeviceStateException.checkBits(label(), "index/data index", s.dataPairIndex(), AhciHba.ABAR_SIZE - 4);
        hba.restore(label(), s.globalControl(), s.ports());
        index = s.dataPairIndex();
    }
}
