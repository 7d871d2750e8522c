package org.jvisor.boot;

/**
 * The legacy BIOS area below 1 MiB (0xE0000-0xFFFFF, reserved in the E820 map) as a direct kernel
 * boot fills it, in one place: the ACPI tables in its first half (Linux scans all of it for the
 * RSDP, and the boot parameters point at it too), the SMBIOS entry point and structures in the
 * second, 0xF0000-0xFFFFF, the only range Linux scans for them (drivers/firmware/dmi_scan.c,
 * SMBIOS 3.0 5.2.2).
 */
public final class BiosArea {
    public static final long ACPI_BASE = 0xE_0000L;
    public static final int ACPI_SIZE = 0x1_0000;
    public static final long SMBIOS_BASE = 0xF_0000L;
    public static final int SMBIOS_SIZE = 0x1_0000;

    private BiosArea() {
    }
}
