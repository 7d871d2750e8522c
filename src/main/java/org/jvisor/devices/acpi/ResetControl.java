package org.jvisor.devices.acpi;

import org.jvisor.devices.PlatformControl;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;

/**
 * The PIIX3 Reset Control Register at I/O port 0xCF9 (one byte): a write with RST_CPU (bit 2)
 * set resets the machine, e.g. the FADT RESET_REG value 0x06 (SYS_RST | RST_CPU) or 0x0E (full
 * reset). SYS_RST (bit 1) and FULL_RST (bit 3) are kept and read back, as Linux's "cf9" reboot
 * method reads the register before writing it.
 *
 * <p>The port lies inside the PCI configuration mechanism's 0xCF8-0xCFB: the PCI host answers
 * 32-bit accesses at 0xCF8 only, so the bus sends byte accesses of 0xCF9 here.
 */
public final class ResetControl implements BusDevice, StatefulDevice<ResetControlState> {

    /** The I/O port of the register. */
    public static final int PORT = 0xCF9;
    /** The value the FADT asks the OS to write for a reset (SYS_RST | RST_CPU). */
    public static final int RESET_VALUE = 0x06;

    public static final int SYS_RST = 1 << 1;
    public static final int RST_CPU = 1 << 2;
    public static final int FULL_RST = 1 << 3;

    private final PlatformControl control;
    private int rcr;

    public ResetControl(PlatformControl control) {
        this.control = control;
    }

    public synchronized void reset() {
        rcr = 0;
    }

    @Override
    public synchronized ResetControlState saveState() {
        return new ResetControlState(rcr);
    }

    @Override
    public synchronized void restoreState(ResetControlState s) throws DeviceStateException {
        DeviceStateException.checkBits("reset control register", "RCR", s.rcr(), SYS_RST | FULL_RST);
        rcr = s.rcr();
    }

    @Override
    public Class<ResetControlState> stateType() {
        return ResetControlState.class;
    }

    @Override
    public synchronized long read(long offset, int size) {
        return offset == 0 ? rcr : 0xFF;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset != 0) {
            return;
        }
        int v = (int) value & 0xFF;
        synchronized (this) {
            rcr = v & (SYS_RST | FULL_RST);
        }
        if ((v & RST_CPU) != 0) {
            control.reset(String.format("reset control register 0xcf9: guest wrote %#x", v));
        }
    }
}
