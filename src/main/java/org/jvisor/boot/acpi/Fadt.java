package org.jvisor.boot.acpi;

import org.jvisor.devices.acpi.AcpiPm;
import org.jvisor.devices.acpi.Gpe0Block;
import org.jvisor.devices.acpi.ResetControl;
import org.jvisor.devices.legacy.RtcCmos;

/**
 * The FADT (Fixed ACPI Description Table, ACPI 6.5 5.2.9), revision 6.5, for a PC that is not
 * hardware-reduced: the PM1a event and control blocks and the PM timer of {@link AcpiPm}, the SCI
 * on IRQ 9, the reset register of {@link ResetControl}, and on the pc machine the GPE0 block of
 * {@link Gpe0Block} (which ACPI PCI hot-plug signals through). SMI_CMD is 0: the machine is always in
 * ACPI mode (ACPICA then never writes ACPI_ENABLE, and PM1_CNT.SCI_EN reads 1); there is no
 * FADT flag for that.
 */
public final class Fadt {

    public static final int REVISION = 6;
    public static final int MINOR_REVISION = 5;
    public static final int SIZE = 276;

    // Flags (5.2.9, table 5.10)
    public static final int WBINVD = 1;
    public static final int PROC_C1 = 1 << 2;
    /** Set: the power button is a control-method device or absent. Clear here: fixed power button. */
    public static final int PWR_BUTTON = 1 << 4;
    /** Set: no fixed-feature sleep button. */
    public static final int SLP_BUTTON = 1 << 5;
    /** Set: RTC wake status is not in the fixed registers. */
    public static final int FIX_RTC = 1 << 6;
    /** Set: the PM timer is 32 bits wide. */
    public static final int TMR_VAL_EXT = 1 << 8;
    public static final int RESET_REG_SUP = 1 << 10;
    public static final int FORCE_APIC_PHYSICAL_DESTINATION_MODE = 1 << 19;
    public static final int HW_REDUCED_ACPI = 1 << 20;

    // IA-PC boot architecture flags (5.2.9.3)
    public static final int BOOT_LEGACY_DEVICES = 1;
    public static final int BOOT_8042 = 1 << 1;
    public static final int BOOT_VGA_NOT_PRESENT = 1 << 2;

    /** P_LVL2_LAT / P_LVL3_LAT values above 100 / 1000 us: C2 and C3 are not supported. */
    public static final int P_LVL2_LAT_NONE = 0x0FFF;
    public static final int P_LVL3_LAT_NONE = 0x03E9;

    private Fadt() {
    }

    /**
     * @param facsAddress FACS, below 4 GiB: in FIRMWARE_CTRL only, as the spec wants X_FIRMWARE_CTRL
     *                    zero when FIRMWARE_CTRL is set (Linux would otherwise install the FACS twice)
     * @param dsdtAddress DSDT (32-bit DSDT and X_DSDT)
     * @param i8042       whether the PS/2 controller is present (IAPC_BOOT_ARCH 8042 flag)
     * @param vcpus       the vCPU count (beyond 8, physical APIC destination mode is forced, as QEMU does)
     */
    public static byte[] build(long facsAddress, long dsdtAddress, boolean i8042, int vcpus) {
        return build(facsAddress, dsdtAddress, i8042, vcpus, false);
    }

    /**
     * As {@link #build(long, long, boolean, int)}; {@code gpe0}: the machine has the GPE0 block
     * of {@link Gpe0Block}, described in GPE0_BLK and GPE0_BLK_LEN and, as this revision has the
     * extended fields, X_GPE0_BLK (ACPI 6.4 5.2.9: an OS that can use X_GPE0_BLK ignores GPE0_BLK;
     * ACPICA checks its bit width against GPE0_BLK_LEN), as QEMU's pc FADT has them. Without,
     * all are 0: no GPE block.
     */
    public static byte[] build(long facsAddress, long dsdtAddress, boolean i8042, int vcpus, boolean gpe0) {
        return build(facsAddress, dsdtAddress, i8042, vcpus, gpe0 ? Gpe0Block.Chipset.PIIX4 : null);
    }

    /**
     * As {@link #build(long, long, boolean, int)}, with the GPE0 block of {@code gpe0} (pc's PIIX4
     * or q35's ICH9 block, as QEMU 7.2's FADTs place them) or, if null, none.
     */
    public static byte[] build(long facsAddress, long dsdtAddress, boolean i8042, int vcpus, Gpe0Block.Chipset gpe0) {
        if (facsAddress >>> 32 != 0 || dsdtAddress >>> 32 != 0) {
            throw new IllegalArgumentException("FACS and DSDT must lie below 4 GiB");
        }
        int flags = WBINVD | PROC_C1 | SLP_BUTTON | FIX_RTC | TMR_VAL_EXT | RESET_REG_SUP;
        if (vcpus > 8) {
            flags |= FORCE_APIC_PHYSICAL_DESTINATION_MODE;
        }
        int bootArch = BOOT_LEGACY_DEVICES | (i8042 ? BOOT_8042 : 0);

        SdtWriter w = new SdtWriter("FACP", REVISION, SIZE);
        w.u32(facsAddress);                  // 36 FIRMWARE_CTRL
        w.u32(dsdtAddress);                  // 40 DSDT
        w.u8(0);                             // 44 reserved
        w.u8(0);                             // 45 Preferred_PM_Profile: unspecified
        w.u16(AcpiPm.SCI_IRQ);               // 46 SCI_INT
        w.u32(0);                            // 48 SMI_CMD: none, always in ACPI mode
        w.u8(0).u8(0);                       // 52 ACPI_ENABLE, ACPI_DISABLE
        w.u8(0).u8(0);                       // 54 S4BIOS_REQ, PSTATE_CNT
        w.u32(AcpiPm.PM1A_EVT_PORT);         // 56 PM1a_EVT_BLK
        w.u32(0);                            // 60 PM1b_EVT_BLK
        w.u32(AcpiPm.PM1A_CNT_PORT);         // 64 PM1a_CNT_BLK
        w.u32(0);                            // 68 PM1b_CNT_BLK
        w.u32(0);                            // 72 PM2_CNT_BLK
        w.u32(AcpiPm.PM_TMR_PORT);           // 76 PM_TMR_BLK
        w.u32(gpe0 != null ? gpe0.port() : 0); // 80 GPE0_BLK
        w.u32(0);                            // 84 GPE1_BLK
        w.u8(AcpiPm.PM1_EVT_LEN);            // 88 PM1_EVT_LEN
        w.u8(AcpiPm.PM1_CNT_LEN);            // 89 PM1_CNT_LEN
        w.u8(0);                             // 90 PM2_CNT_LEN
        w.u8(AcpiPm.PM_TMR_LEN);             // 91 PM_TMR_LEN
        w.u8(gpe0 != null ? gpe0.length() : 0); // 92 GPE0_BLK_LEN
        w.u8(0).u8(0);                       // 93 GPE1_BLK_LEN, GPE1_BASE
        w.u8(0);                             // 95 CST_CNT
        w.u16(P_LVL2_LAT_NONE);              // 96 P_LVL2_LAT
        w.u16(P_LVL3_LAT_NONE);              // 98 P_LVL3_LAT
        w.u16(0).u16(0);                     // 100 FLUSH_SIZE, FLUSH_STRIDE
        w.u8(0).u8(0);                       // 104 DUTY_OFFSET, DUTY_WIDTH
        w.u8(0).u8(0);                       // 106 DAY_ALRM, MON_ALRM
        w.u8(RtcCmos.REG_CENTURY);           // 108 CENTURY: the CMOS byte holding it, as QEMU's
        w.u16(bootArch);                     // 109 IAPC_BOOT_ARCH
        w.u8(0);                             // 111 reserved
        w.u32(flags);                        // 112 Flags
        w.gas(SdtWriter.GAS_SYSTEM_IO, 8, 0, SdtWriter.GAS_ACCESS_BYTE, ResetControl.PORT); // 116 RESET_REG
        w.u8(ResetControl.RESET_VALUE);      // 128 RESET_VALUE
        w.u16(0);                            // 129 ARM_BOOT_ARCH
        w.u8(MINOR_REVISION);                // 131 FADT minor version
        w.u64(0);                            // 132 X_FIRMWARE_CTRL: 0, FIRMWARE_CTRL is set (5.2.9)
        w.u64(dsdtAddress);                  // 140 X_DSDT
        w.gas(SdtWriter.GAS_SYSTEM_IO, AcpiPm.PM1_EVT_LEN * 8, 0, SdtWriter.GAS_ACCESS_WORD,
            AcpiPm.PM1A_EVT_PORT);           // 148 X_PM1a_EVT_BLK
        w.zeros(12);                         // 160 X_PM1b_EVT_BLK
        w.gas(SdtWriter.GAS_SYSTEM_IO, AcpiPm.PM1_CNT_LEN * 8, 0, SdtWriter.GAS_ACCESS_WORD,
            AcpiPm.PM1A_CNT_PORT);           // 172 X_PM1a_CNT_BLK
        w.zeros(12);                         // 184 X_PM1b_CNT_BLK
        w.zeros(12);                         // 196 X_PM2_CNT_BLK
        w.gas(SdtWriter.GAS_SYSTEM_IO, AcpiPm.PM_TMR_LEN * 8, 0, SdtWriter.GAS_ACCESS_DWORD,
            AcpiPm.PM_TMR_PORT);             // 208 X_PM_TMR_BLK
        if (gpe0 != null) { // byte access: each GPE register is a byte (4.8.5.1)
            w.gas(SdtWriter.GAS_SYSTEM_IO, gpe0.length() * 8, 0, SdtWriter.GAS_ACCESS_BYTE,
                gpe0.port());                // 220 X_GPE0_BLK
        } else {
            w.zeros(12);                     // 220 X_GPE0_BLK
        }
        w.zeros(12);                         // 232 X_GPE1_BLK
        w.zeros(12);                         // 244 SLEEP_CONTROL_REG (hardware-reduced only)
        w.zeros(12);                         // 256 SLEEP_STATUS_REG
        w.u64(0);                            // 268 Hypervisor Vendor Identity
        if (w.size() != SIZE) {
            throw new AssertionError("FADT layout: " + w.size());
        }
        return w.finish();
    }
}
