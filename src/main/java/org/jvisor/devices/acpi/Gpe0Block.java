package org.jvisor.devices.acpi;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * The General-Purpose Event 0 register block (ACPI 6.4 4.8.5.1.1) where QEMU 7.2's chipsets put
 * it ({@link Chipset}): on pc the PIIX4 PM's 4 bytes at I/O port 0xafe0 (16 events, GPE
 * 0x00-0x0F); on q35 the ICH9's 16 bytes at PMBASE + 0x20 (64 events, GPE
 * 0x00-0x3F; QEMU 7.2's q35 FADT: GPE0_BLK 0x620, GPE0_BLK_LEN 0x10, checked on a q35 guest). The
 * first half is GPE0_STS, the second GPE0_EN. The FADT's GPE0_BLK and GPE0_BLK_LEN (and
 * X_GPE0_BLK) describe exactly these ports.
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

    /** Where each chipset has the block and how long it is. */
    public enum Chipset {
        /** QEMU's PIIX4 PM (pc): ACPI_GPE0_BLK 0xafe0, GPE_LEN 4. */
        PIIX4(0xAFE0, 4),
        /** QEMU's ICH9 LPC (q35): PMBASE 0x600 + ICH9_PMIO_GPE0_STS 0x20, ICH9_PMIO_GPE0_LEN 16. */
        ICH9(AcpiPm.PORT_BASE + 0x20, 16);

        private final int port;
        private final int length;

        Chipset(int port, int length) {
            this.port = port;
            this.length = length;
        }

        /** The first I/O port (GPE0_BLK). */
        public int port() {
            return port;
        }

        /** GPE0_BLK_LEN: status bytes, then as many enable bytes. */
        public int length() {
            return length;
        }

        /** GPE0_EN's offset from {@link #port()}: the enable half follows the status half. */
        public int enableOffset() {
            return length / 2;
        }

        /** GPEs the block has: 8 per status byte. */
        public int events() {
            return length / 2 * 8;
        }
    }

    /** GPE0_STS, from the block's first port (GPE0_EN: {@link Chipset#enableOffset()}). */
    public static final int STS_OFFSET = 0;

    private static final String NAME = "GPE0 block";

    private final IrqLine sci;
    private final Chipset chipset;
    /** Bytes of GPE0_STS (and of GPE0_EN): the enable half starts here. */
    private final int half;
    private final long mask;
    private long sts;
    private long en;
    private boolean sciLevel;

    /**
     * @param sci     this block's input of the machine's SCI (level)
     * @param chipset whose block this is: its length decides the events
     */
    public Gpe0Block(IrqLine sci, Chipset chipset) {
        this.sci = sci;
        this.chipset = chipset;
        this.half = chipset.enableOffset();
        this.mask = chipset.events() == Long.SIZE ? -1L : (1L << chipset.events()) - 1;
    }

    /** Where this block is and how long. */
    public Chipset chipset() {
        return chipset;
    }

    /** Event {@code gpe} happened: its status bit is set, and the SCI raised if it is enabled. */
    public synchronized void raise(int gpe) {
        if (gpe < 0 || gpe >= chipset.events()) {
            throw new IllegalArgumentException("GPE0 has events 0-" + (chipset.events() - 1) + ", not " + gpe);
        }
        sts |= 1L << gpe;
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
        DeviceStateException.checkBits(NAME, "GPE0_STS", s.status(), mask);
        DeviceStateException.checkBits(NAME, "GPE0_EN", s.enable(), mask);
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
            long b;
            if (port >= STS_OFFSET && port < half) {
                b = sts >>> (8 * (port - STS_OFFSET));
            } else if (port >= half && port < chipset.length()) {
                b = en >>> (8 * (port - half));
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
            long b = (value >>> (8 * i)) & 0xFF;
            if (port >= STS_OFFSET && port < half) {
                sts &= ~(b << (8 * (port - STS_OFFSET)));
            } else if (port >= half && port < chipset.length()) {
                int shift = (int) (8 * (port - half));
                en = (en & ~(0xFFL << shift)) | (b << shift);
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
