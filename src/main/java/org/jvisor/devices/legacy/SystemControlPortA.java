package org.jvisor.devices.legacy;

import org.jvisor.devices.PlatformControl;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;

/**
 * System Control Port A at I/O port 0x92 (the PS/2 "fast A20 and reset" port; PIIX3 datasheet,
 * "Port 92h"): bit 1 is the A20 gate, bit 0 written from 0 to 1 resets the machine (the "fast
 * reset"). SeaBIOS enables A20 here (read, set bit 1, write back). The A20 line goes to the
 * given gate, as the i8042 output port's does; jvisor's CPUs keep A20 enabled whatever it says
 * (software since the 286 enables it, and a masked A20 would cost every memory access).
 */
public final class SystemControlPortA implements BusDevice, StatefulDevice<SystemControlPortAState> {
    public static final int PORT = 0x92;
    static final int FAST_RESET = 0x01;
    static final int A20 = 0x02;

    private final PlatformControl control;
    private final I8042.A20Gate gate;
    private int value;

    public SystemControlPortA(PlatformControl control, I8042.A20Gate gate) {
        this.control = control;
        this.gate = gate;
    }

    public synchronized void reset() {
        value = 0;
        gate.setA20(false);
    }

    @Override
    public synchronized long read(long offset, int size) {
        return value;
    }

    @Override
    public void write(long offset, int size, long v) {
        int b = (int) v & 0xFF;
        boolean reset;
        synchronized (this) {
            reset = (b & FAST_RESET) != 0 && (value & FAST_RESET) == 0;
            value = b & A20; // the reset bit reads back 0 once the reset has happened
        }
        gate.setA20((b & A20) != 0);
        if (reset) {
            control.reset(String.format("port 0x92 fast reset: guest wrote %#x", b));
        }
    }

    @Override
    public synchronized SystemControlPortAState saveState() {
        return new SystemControlPortAState(value);
    }

    @Override
    public synchronized void restoreState(SystemControlPortAState s) throws DeviceStateException {
        DeviceStateException.checkBits("port 0x92", "value", s.value(), A20);
        value = s.value();
        gate.setA20((value & A20) != 0);
    }

    @Override
    public Class<SystemControlPortAState> stateType() {
        return SystemControlPortAState.class;
    }
}
