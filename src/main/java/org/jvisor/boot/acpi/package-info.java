/**
 * ACPI tables built by the VMM for a directly booted kernel (no firmware): {@link
 * org.jvisor.boot.acpi.AcpiTables} lays out RSDP, FACS, DSDT, FADT, MADT, MCFG, XSDT and RSDT in a
 * guest-physical window (by default 0xE0000-0xEFFFF in the BIOS area where Linux finds the RSDP);
 * {@link org.jvisor.boot.acpi.AmlWriter} writes the DSDT's AML. The fixed hardware the FADT
 * describes lives in {@code org.jvisor.devices.acpi} ({@code AcpiPm} at ports 0x600-0x60B,
 * {@code ResetControl} at 0xCF9); the tables take the port numbers from those classes' constants.
 */
package org.jvisor.boot.acpi;
