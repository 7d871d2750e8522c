package org.jvisor.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.jvisor.boot.acpi.AcpiTables;
import org.jvisor.boot.acpi.TableLoader;
import org.jvisor.boot.smbios.SmbiosTables;
import org.jvisor.config.MachineConfig;
import org.jvisor.devices.fwcfg.FwCfgItems;
import org.jvisor.memory.GuestMemory;

/**
 * What the firmware learns of the machine through fw_cfg, as QEMU's pc machine tells SeaBIOS:
 * RAM size and map ({@code etc/e820}: the RAM ranges, the firmware reserves its own areas), the
 * vCPU count, the boot menu and order, the serial console to use without a display
 * ({@code etc/sercon-port}: jvisor never has one), the SMBIOS tables and the ACPI tables with
 * their loader script.
 */
final class FirmwareConfig {
    static final int E820_RAM = 1;
    /** SeaBIOS's serial console: COM1. */
    static final int SERCON_PORT = Machine.COM1_BASE;

    private FirmwareConfig() {
    }

    /** QEMU's OpenFirmware path of a virtio-blk-pci disk in {@code slot}, as SeaBIOS matches it. */
    static String virtioDiskPath(int slot) {
        return String.format("/pci@i0cf8/scsi@%x/disk@0,0", slot);
    }

    /** QEMU's path of the IDE drive at {@code channel}/{@code unit} of the PIIX3 IDE function in {@code slot}.1. */
    static String ideDrivePath(int slot, int channel, int unit) {
        return String.format("/pci@i0cf8/ide@%x,1/drive@%x/disk@%x", slot, channel, unit);
    }

    /** An AHCI port's disk as QEMU names it for SeaBIOS ("/pci@i0cf8/sata@1f,2/drive@0/disk@0"). */
    static String sataDrivePath(int slot, int function, int port) {
        return String.format("/pci@i0cf8/sata@%x,%x/drive@%x/disk@0", slot, function, port);
    }

    /**
     * @param diskPaths the disks' OpenFirmware paths in boot order (IDE disks first, as SeaBIOS
     *                  finds them first, then the virtio-blk disks in command-line order): with
     *                  the disk first in the boot order, they are the bootorder file's entries, so
     *                  the first -drive boots first as with QEMU's bootindex
     */
    static FwCfgItems items(MachineConfig config, GuestMemory ram, AcpiTables acpi, List<String> diskPaths,
                            SmbiosTables smbios) {
        MachineConfig.Firmware fw = config.firmware();
        FwCfgItems items = new FwCfgItems()
            .put(FwCfgItems.RAM_SIZE, FwCfgItems.le(ram.size(), 8))
            .put(FwCfgItems.NOGRAPHIC, FwCfgItems.le(1, 2))
            .put(FwCfgItems.NB_CPUS, FwCfgItems.le(config.cpus(), 2))
            .put(FwCfgItems.MAX_CPUS, FwCfgItems.le(config.cpus(), 2))
            .put(FwCfgItems.BOOT_MENU, FwCfgItems.le(fw.bootMenu() ? 1 : 0, 2));
        ByteBuffer e820 = ByteBuffer.allocate(20 * ram.ranges().size()).order(ByteOrder.LITTLE_ENDIAN);
        for (GuestMemory.RamRange r : ram.ranges()) {
            e820.putLong(r.guestAddress()).putLong(r.size()).putInt(E820_RAM);
        }
        items.file("etc/e820", e820.array());
        items.file("etc/boot-fail-wait", FwCfgItems.le(fw.rebootTimeout(), 4));
        if (fw.bootMenu()) {
            items.file("etc/boot-menu-wait", FwCfgItems.le(fw.splashTime(), 2));
        }
        items.file("etc/sercon-port", FwCfgItems.le(SERCON_PORT, 2));
        String order = fw.bootOrder();
        if (!diskPaths.isEmpty() && (order == null || order.charAt(0) == 'c')) {
            StringBuilder b = new StringBuilder();
            for (String path : diskPaths) {
                b.append(path).append('\n');
            }
            items.file("bootorder", b.toString().getBytes(StandardCharsets.US_ASCII));
        }
        // SMBIOS as QEMU's pc machines give it (hw/smbios/smbios.c): the 32-bit entry point SeaBIOS
        // copies below 1 MiB, fixing the table's address, and the structures, which it keeps
        // whole when they hold a type 0 (its smbios_romfile_setup)
        byte[] structures = smbios.structures();
        items.file("etc/smbios/smbios-tables", structures);
        items.file("etc/smbios/smbios-anchor", smbios.entryPoint32(0, structures));
        TableLoader.Files tables = TableLoader.of(acpi);
        items.file(TableLoader.TABLES, tables.tables());
        items.file(TableLoader.RSDP, tables.rsdp());
        items.file(TableLoader.LOADER, tables.loader());
        return items;
    }
}
