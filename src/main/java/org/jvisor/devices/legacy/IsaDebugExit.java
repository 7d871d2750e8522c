package org.jvisor.devices.legacy;

import org.jvisor.devices.PlatformControl;
import org.jvisor.memory.BusDevice;

/**
 * QEMU's isa-debug-exit: a guest write of V ends the VMM with exit status (V << 1) | 1, so test
 * guests can report pass/fail through the exit status. Reads return all-ones like an empty port.
 */
public final class IsaDebugExit implements BusDevice {
    private final PlatformControl control;

    public IsaDebugExit(PlatformControl control) {
        this.control = control;
    }

    @Override
    public long read(long offset, int size) {
        return size >= 8 ? -1L : (1L << (size * 8)) - 1;
    }

    @Override
    public void write(long offset, int size, long value) {
        long v = value & (size >= 8 ? -1L : (1L << (size * 8)) - 1);
        int status = (int) (((v << 1) | 1) & 0xFF);
        control.exit(status, String.format("isa-debug-exit: guest wrote %#x", v));
    }
}
