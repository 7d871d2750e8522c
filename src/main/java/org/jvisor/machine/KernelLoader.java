package org.jvisor.machine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import org.jvisor.boot.BootException;
import org.jvisor.boot.ElfImage;
import org.jvisor.boot.FirmwareImage;
import org.jvisor.boot.ImagePool;
import org.jvisor.boot.KernelFile;
import org.jvisor.boot.TestGuestBoot;
import org.jvisor.boot.acpi.AcpiTables;
import org.jvisor.boot.linux.E820Map;
import org.jvisor.boot.linux.LinuxBoot;
import org.jvisor.boot.linux.LinuxBootResult;
import org.jvisor.boot.linux.LinuxKernel;
import org.jvisor.boot.linux.ReservedRange;
import org.jvisor.cpu.X86State;
import org.jvisor.devices.virtio.VirtioMmioTransport;
import org.jvisor.memory.GuestMemory;
import org.jvisor.config.MachineConfig;

/**
 * Reads -kernel (and -initrd) once and loads them into RAM at every (re)boot: a test-guest ELF
 * as such, a Linux kernel through the boot protocol with the platform's ACPI tables.
 */
final class KernelLoader {
    private final KernelFile.Loaded kernel;
    private final ElfImage testElf;
    private final byte[] initrd;
    private final String cmdline;
    private final LinuxKernel linux;
    private final AcpiTables acpi;
    /** The BIOS a machine without -kernel boots, or null. */
    private final FirmwareImage firmware;
    private LinuxBootResult lastLinuxBoot;

    private KernelLoader(KernelFile.Loaded kernel, ElfImage testElf, byte[] initrd, String cmdline,
                         LinuxKernel linux, AcpiTables acpi) {
        this(kernel, testElf, initrd, cmdline, linux, acpi, null);
    }

    private KernelLoader(KernelFile.Loaded kernel, ElfImage testElf, byte[] initrd, String cmdline,
                         LinuxKernel linux, AcpiTables acpi, FirmwareImage firmware) {
        this.firmware = firmware;
        this.kernel = kernel;
        this.testElf = testElf;
        this.initrd = initrd;
        this.cmdline = cmdline;
        this.linux = linux;
        this.acpi = acpi;
    }

    /** Reads the files {@code config} names, holding their bytes through {@code images} (shared with other machines). */
    static KernelLoader read(MachineConfig config, ImagePool images) throws BootException {
        if (config.machineType() == MachineConfig.MachineType.NONE) {
            return new KernelLoader(null, null, null, null, null, null);   // nothing to boot
        }
        Path path = config.kernel();
        if (path == null) {
            if (config.machineType() == MachineConfig.MachineType.Q35) {
                throw new BootException("-machine q35: jvisor boots q35 with -kernel only (its firmware boot is the pc "
                    + "machine's, with the 440FX chipset SeaBIOS expects)");
            }
            // no -kernel: the firmware boots whatever the disks hold; it loads the same ACPI tables through fw_cfg
            return new KernelLoader(null, null, null, null, null, acpiTables(config),
                FirmwareImage.read(config.firmware().bios()));
        }
        KernelFile.Loaded read = KernelFile.read(path);
        KernelFile.Loaded k = new KernelFile.Loaded(read.path(), images.share(read.bytes()), read.format());
        byte[] initrd = config.initrd() == null ? null : images.share(readInitrd(config.initrd()));
        return switch (k.format()) {
            case TEST_ELF -> {
                if (initrd != null || config.append() != null) {
                    throw new BootException("-initrd and -append need a Linux kernel; " + path + " is a test-guest ELF");
                }
                yield new KernelLoader(k, ElfImage.parse(k.bytes(), "kernel " + path), null, null, null, null);
            }
            case BZIMAGE, PVH_ELF -> {
                // Validated here, once, so a bad payload fails at start-up; each boot streams it into RAM. A payload
                // format we cannot unpack on the host (xz, zstd...) falls back to the kernel's own decompressor, as QEMU always does.
                boolean onHost = config.decompressOnHost() && LinuxKernel.canDecompressOnHost(k.bytes());
                LinuxKernel linux;
                try {
                    // validated once per kernel file and decompression choice (the check decompresses the payload)
                    linux = images.derived(k.bytes(), "linux kernel, decompressed on the host: " + onHost, LinuxKernel.class,
                        () -> LinuxKernel.prepare(k.bytes(), onHost));
                } catch (BootException e) {
                    throw new BootException("kernel " + path + ": " + e.getMessage());
                }
                yield new KernelLoader(k, null, initrd, config.append() == null ? "" : config.append(), linux,
                    acpiTables(config));
            }
        };
    }

    /** What the DSDT describes: the PC with its PCI host, or microvm with its virtio-mmio windows. */
    private static AcpiTables acpiTables(MachineConfig config) throws BootException {
        AcpiTables tables = new AcpiTables(config.cpus()).com1(true).i8042(true);
        if (config.machineType().hasPci()) {
            return tables.pciHost(PcPciLayout.forMemory(config.memoryBytes(), config.bootsFirmware()).acpi());
        }
        try {
            for (VirtioMmioSlot slot : VirtioMmioSlot.of(config)) {
                tables.addVirtioMmio(slot.base(), VirtioMmioTransport.WINDOW_SIZE, slot.gsi());
            }
        } catch (IllegalArgumentException e) {
            throw new BootException(e.getMessage());
        }
        return tables;
    }

    private static byte[] readInitrd(Path p) throws BootException {
        try {
            if (Files.isDirectory(p)) {
                throw new BootException("initrd " + p + " is a directory");
            }
            return Files.readAllBytes(p);
        } catch (NoSuchFileException e) {
            throw new BootException("initrd " + p + " does not exist");
        } catch (IOException e) {
            throw new BootException("initrd " + p + " cannot be read: " + e.getMessage());
        }
    }

    /**
     * Whether the guest is a PC operating system (a Linux kernel, or whatever the firmware boots):
     * it gets the ACPI platform (PM registers, power button). Not a test guest, not the none machine.
     */
    boolean isLinux() {
        return linux != null || firmware != null;
    }

    /** The firmware this machine boots, or null when it boots a kernel directly. */
    FirmwareImage firmware() {
        return firmware;
    }

    /** The ACPI tables of a Linux or firmware boot (null for a test guest). */
    AcpiTables acpi() {
        return acpi;
    }

    /** Bytes of firmware ROM the machine maps below 4 GiB (0 without firmware). */
    long romSize() {
        return firmware == null ? 0 : firmware.bytes().length;
    }

    X86State load(GuestMemory ram) throws BootException {
        if (firmware != null) {
            // The ROM below 4 GiB, and its end in the BIOS area below 1 MiB, where the PAM
            // registers (at 0 after reset: writes ignored) keep it until the firmware opens it.
            ram.loadRom(firmware.bytes());
            byte[] isa = firmware.isaBios();
            ram.write(FirmwareImage.ISA_BIOS_END - isa.length, isa);
            X86State s = new X86State();
            s.applyPowerOn(); // real mode at F000:FFF0, CS base 0xFFFF0000: the reset vector
            return s;
        }
        if (kernel == null) {
            throw new BootException("the none machine has no guest to load");
        }
        if (testElf != null) {
            return TestGuestBoot.load(testElf, ram, kernel.bytes(), "kernel " + kernel.path());
        }
        AcpiTables.Placement tables = acpi.writeTo(ram);
        try {
            lastLinuxBoot = LinuxBoot.load(ram, linux, initrd, cmdline, tables.rsdpAddress(),
                List.of(new ReservedRange(tables.start(), tables.length(), E820Map.Type.ACPI, "ACPI tables")));
        } catch (BootException e) {
            throw new BootException("kernel " + kernel.path() + ": " + e.getMessage());
        }
        return lastLinuxBoot.entryState();
    }

    /** What the last Linux boot did, for -d boot; null for a test guest. */
    LinuxBootResult lastLinuxBoot() {
        return lastLinuxBoot;
    }
}
