package org.jvisor.devices.acpi;

import org.jvisor.memory.BusDevice;

/**
 * The ICH9's SMI_EN register (Intel I/O Controller Hub 9 datasheet 13.8.3.7), 32 bits at PMBASE +
 * 0x30 of the power-management block: which events raise an SMI. jvisor has no System Management
 * Mode, so no event raises one; the register reads APMC_EN set and ignores writes, as QEMU's q35
 * marks SMM as set up already when it runs without SMM (ich9_pm_reset). Firmware reads it before
 * it installs an SMI handler: SeaBIOS's ich9_lpc_apmc_smm_setup skips the install (and its wait
 * for an SMI that would never come) when APMC_EN is set.
 */
public final class Ich9SmiEnable implements BusDevice {
    /** Where the register sits in the PM block (PMBASE + 0x30). */
    public static final int OFFSET = 0x30;
    public static final int PORT = AcpiPm.PORT_BASE + OFFSET;
    public static final int SIZE = 4;
    /** APMC_EN: writes to the APM control port (0xB2) raise an SMI. */
    public static final int APMC_EN = 1 << 5;

    @Override
    public long read(long offset, int size) {
        long value = (APMC_EN & 0xFFFF_FFFFL) >>> (8 * offset);
        return size >= 4 ? value : value & ((1L << (8 * size)) - 1);
    }

    @Override
    public void write(long offset, int size, long value) {
        // no SMI sources: nothing to enable
    }
}
