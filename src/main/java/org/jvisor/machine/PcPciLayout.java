package org.jvisor.machine;

import org.jvisor.boot.acpi.PciHost;
import org.jvisor.devices.pci.PciHostBridge;
import org.jvisor.memory.GuestMemory;

/**
 * Where the PC machine puts PCI in the guest-physical map, in one place for the host bridge (which
 * places the BARs) and the ACPI tables (which tell the guest): BARs in 0xC000_0000-0xE000_0000,
 * ECAM for buses 0-255 at 0xE000_0000 (256 MiB, PCIe base spec 7.2.2; announced by MCFG), and a
 * 64-bit window for prefetchable 64-bit BARs above the end of RAM, 1 GiB-aligned, as QEMU's pc
 * machines do.
 */
record PcPciLayout(long mmio32Base, long mmio32Size, long ecamBase, int buses, long mmio64Base, long mmio64Size) {
    static final long MMIO32_BASE = GuestMemory.PCI_HOLE_START;
    static final long ECAM_BASE = 0xE000_0000L;
    static final int BUSES = 256;
    static final long MMIO64_SIZE = 32L << 30;
    /** PCI slot s pin p reaches GSI 16 + (s + p) % 4, as the DSDT's _PRT says. */
    static final int FIRST_GSI = 16;

    /**
     * SeaBIOS on the 440FX places the 32-bit BARs at the top of [RAM's end, 0xFEC0_0000), below the
     * IOAPIC (pciinit.c); with firmware the window the DSDT announces is that top, above the ECAM,
     * so that Linux keeps the firmware's assignment.
     */
    static final long FIRMWARE_MMIO32_BASE = ECAM_BASE + ((long) BUSES << 20);
    static final long FIRMWARE_MMIO32_END = 0xFEC0_0000L;
    /**
     * SeaBIOS on the Q35 puts the ECAM at 0xB000_0000 for 256 buses (PCIEXBAR; dev-q35.h) and the
     * 32-bit BARs above it, up to the IOAPIC (pciinit.c, mch_mem_addr_setup). RAM below 4 GiB ends
     * below the ECAM: all of it when it fits, else 2 GiB with the rest above 4 GiB, as QEMU's q35
     * splits it (pc_q35_init: lowmem 0x80000000 once RAM reaches 0xB0000000).
     */
    static final long Q35_FIRMWARE_ECAM_BASE = 0xB000_0000L;
    static final long Q35_FIRMWARE_SPLIT_LOW_RAM = 0x8000_0000L;
    /** I/O BARs: SeaBIOS's choice, clear of the legacy ports. */
    static final int IO_BASE = 0xC000, IO_SIZE = 0x4000;

    /** The layout of {@code config}'s machine (pc or q35): its RAM, and whether firmware boots it. */
    static PcPciLayout of(org.jvisor.config.MachineConfig config) {
        return forMemory(config.memoryBytes(), config.bootsFirmware(),
            config.machineType() == org.jvisor.config.MachineConfig.MachineType.Q35);
    }

    /** Where RAM below 4 GiB ends at most on {@code config}'s machine ({@link GuestMemory#allocate}). */
    static long lowRamLimit(org.jvisor.config.MachineConfig config) {
        return lowRamLimit(config.memoryBytes(), config.bootsFirmware() && config.machineType().hasPci(),
            config.machineType() == org.jvisor.config.MachineConfig.MachineType.Q35);
    }

    private static long lowRamLimit(long memoryBytes, boolean firmware, boolean q35) {
        if (firmware && q35) {
            return memoryBytes >= Q35_FIRMWARE_ECAM_BASE ? Q35_FIRMWARE_SPLIT_LOW_RAM : Q35_FIRMWARE_ECAM_BASE;
        }
        return GuestMemory.PCI_HOLE_START;
    }

    /**
     * The layout for {@code memoryBytes} of RAM; {@code firmware}: BARs (and on {@code q35} the
     * ECAM) where SeaBIOS puts them.
     */
    static PcPciLayout forMemory(long memoryBytes, boolean firmware, boolean q35) {
        long ramTop = GuestMemory.HIGH_RAM_START + Math.max(0, memoryBytes - lowRamLimit(memoryBytes, firmware, q35));
        long gib = 1L << 30;
        long mmio64Base = (ramTop + gib - 1) & -gib;
        if (firmware && q35) {
            long mmio32Base = Q35_FIRMWARE_ECAM_BASE + ((long) BUSES << 20);
            return new PcPciLayout(mmio32Base, FIRMWARE_MMIO32_END - mmio32Base, Q35_FIRMWARE_ECAM_BASE, BUSES,
                mmio64Base, MMIO64_SIZE);
        }
        if (firmware) {
            return new PcPciLayout(FIRMWARE_MMIO32_BASE, FIRMWARE_MMIO32_END - FIRMWARE_MMIO32_BASE, ECAM_BASE, BUSES,
                mmio64Base, MMIO64_SIZE);
        }
        return new PcPciLayout(MMIO32_BASE, ECAM_BASE - MMIO32_BASE, ECAM_BASE, BUSES, mmio64Base, MMIO64_SIZE);
    }

    PciHostBridge.Windows windows() {
        return new PciHostBridge.Windows(mmio32Base, mmio32Size, mmio64Base, mmio64Size, IO_BASE, IO_SIZE);
    }

    PciHost acpi() {
        return new PciHost(0, 0, buses - 1, ecamBase, mmio32Base, mmio32Size, mmio64Base, mmio64Size,
            PciHost.swizzledRoutes(32, FIRST_GSI));
    }
}
