package org.jvisor.devices.acpi;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * The General-Purpose Event 0 register block of the pc machine (ACPI 6.4 4.8.5.1.1), where
 * QEMU's PIIX4 PM puts it: {@link #LEN} bytes at I/O port {@link #PORT_BASE}, the first half
 * GPE0_STS, the second GPE0_EN, so 16 events (GPE 0x00-0x0F). The FADT's GPE0_BLK and
 * GPE0_BLK_LEN (and X_GPE0_BLK) describe exactly these ports.
 *
 * <ul>
 *   <li>A device sets a status bit with {@link #raise(int)}; the guest clears it by writing 1 to
 *       it (write-1-to-clear), as for PM1_STS. The guest cannot set status bits.</li>
 *   <li>GPE0_EN is read/write, every bit (QEMU keeps whatever is written).</li>
 *   <li>The SCI line of this block is asserted while a status bit is set with its enable bit
 *       (4.8.5.1: an event raises the SCI when both are set); the block is one source of the
 *       machine's {@link SciLine}.</li>
 *   <li>Each register is byte-wide (4.8.5.1: "accessed as a byte", as ACPICA does); wider
 *       accesses are split into bytes.</li>
 * </ul>
 *
 * Which GPE means what is the DSDT's business: its {@code \_GPE._Exx} method for event xx
 * (edge-triggered: ACPICA clears the status bit, then runs the method).
 */
public final class Gpe0Block implements BusDevice, StatefulDevice<Gpe0BlockState> {

    /** I/O port of GPE0_BLK, as QEMU's PIIX4 (ACPI_GPE0_BLK 0xafe0). */
    public static final int PORT_BASE = 0xAFE0;
    /** GPE0_BLK_LEN: two status bytes, then two enable bytes (QEMU's GPE_LEN 4). */
    public static final int LEN = 4;
    /** GPE0_STS, from {@link #PORT_BASE}. */
    public static final int STS_OFFSET = 0;
    /** GPE0_EN, from {@link #PORT_BASE}. */
    public static final int EN_OFFSET = LEN / 2;
    /** GPEs the block has: 8 per status byte. */
    public static final int EVENTS = LEN / 2 * 8;

    private static final int MASK = (1 << EVENTS) - 1;
    private static final String NAME = "GPE0 block";

    private final IrqLine sci;
    private int sts;
    private int en;
    private boolean sciLevel;

    /** @param sci this block's input of the machine's SCI (level) */
    public Gpe0Block(IrqLine sci) {
        this.sci = sci;
    }

    /** Event {@code gpe} (0-15) happened: its status bit is set, and the SCI raised if it is enabled. */
    public synchronized void raise(int gpe) {
        if (gpe < 0 || gpe >= EVENTS) {
            throw new IllegalArgumentException("GPE0 has events 0-" + (EVENTS - 1) + ", not " + gpe);
        }
        sts |= 1 << gpe;
        updateSci();
    }

    /** Power-on state: no event pending, all disabled (QEMU's acpi_gpe_reset). */
    public synchronized void reset() {
        sts = 0;
        en = 0;
        updateSci();
    }

    /** Whether this block asserts the SCI. */
    public synchronized boolean sciAsserted() {
        return sciLevel;
    }

    @Override
    public synchronized Gpe0BlockState saveState() {
        return new Gpe0BlockState(sts, en);
    }

    @Override
    public synchronized void restoreState(Gpe0BlockState s) throws DeviceStateException {
        DeviceStateException.checkBits(NAME, "GPE0_STS", s.status(), MASK);
        DeviceStateException.checkBits(NAME, "GPE0_EN", s.enable(), MASK);
        sts = s.status();
        en = s.enable();
        updateSci();
    }

    @Override
    public Class<Gpe0BlockState> stateType() {
        return Gpe0BlockState.class;
    }

    @Override
    public synchronized long read(long offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            long port = offset + i;
            int b;
            if (port >= STS_OFFSET && port < EN_OFFSET) {
                b = sts >>> (8 * (port - STS_OFFSET));
            } else if (port >= EN_OFFSET && port < LEN) {
                b = en >>> (8 * (port - EN_OFFSET));
            } else {
                b = 0xFF;
            }
            v |= (long) (b & 0xFF) << (8 * i);
        }
        return v;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            long port = offset + i;
            int b = (int) (value >>> (8 * i)) & 0xFF;
            if (port >= STS_OFFSET && port < EN_OFFSET) {
                sts &= ~(b << (8 * (port - STS_OFFSET)));
            } else if (port >= EN_OFFSET && port < LEN) {
                int shift = (int) (8 * (port - EN_OFFSET));
                en = (en & ~(0xFF << shift)) | (b << shift);
            }
        }
        updateSci();
    }

    private void updateSci() {
        boolean level = (sts & en) != 0;
        if (level != sciLevel) {
            sciLevel = level;
            sci.set(level);
        }
    }
}
