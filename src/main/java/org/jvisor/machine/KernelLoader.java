package org.jvisor.machine;

import java.io.IOException;
import java.io.InputStream;
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
import org.jvisor.boot.BiosArea;
import org.jvisor.boot.acpi.AcpiTables;
import org.jvisor.boot.smbios.SmbiosTables;
import org.jvisor.boot.linux.E820Map;
import org.jvisor.boot.linux.LinuxBoot;
import org.jvisor.boot.linux.LinuxBootResult;
import org.jvisor.boot.linux.LinuxKernel;
import org.jvisor.boot.linux.ReservedRange;
import org.jvisor.boot.linux.SetupData;
import org.jvisor.cpu.X86State;
import org.jvisor.devices.acpi.AcpiPciHotplug;
import org.jvisor.devices.virtio.VirtioMmioTransport;
import org.jvisor.memory.GuestMemory;
import org.jvisor.config.MachineConfig;

/**
 * Reads -kernel (and -initrd) and loads them into RAM at every (re)boot: a test-guest ELF as
 * such, a Linux kernel through the boot protocol with the platform's ACPI tables.
 * <p>
 * A Linux kernel and its initrd are held only until they are loaded: 14 MiB of bzImage and the
 * initrd would otherwise stay on the heap for the machine's life (issue 14 caps jvisor's own
 * memory on the demo boot at 150 MiB). A reboot reads and validates the files again, as Cloud
 * Hypervisor does; QEMU keeps its copy and reboots what it read at start. A file that was
 * removed or broken since then fails the reset with the file's own error.
 */
final class KernelLoader {
    /** The -kernel path; null for the none machine and a firmware boot. */
    private final Path kernelPath;
    /** A test-guest ELF (kept: kilobytes), or null. */
    private final ElfImage testElf;
    private final byte[] testElfBytes;
    private final Path initrdPath;
    private final String cmdline;
    private final boolean decompressOnHost;
    private final ImagePool images;
    /** The Linux kernel and initrd for the next load; null once loaded (read again at the next). */
    private LinuxFiles linux;
    /** Keep {@link #linux} after loading it ({@link #hold}). */
    private boolean hold;
    private final AcpiTables acpi;
    /** What the SMBIOS tables describe (-uuid, -smp). */
    private final MachineConfig config;
    /** The BIOS a machine without -kernel boots, or null. */
    private final FirmwareImage firmware;
    private LinuxBootResult lastLinuxBoot;
    /** The host's entropy for the RNG seed, kept open by {@link #hold} (the path may be gone later); null: opened per boot. */
    private InputStream entropy;

    private static final Path URANDOM = Path.of("/dev/urandom");

    /** A Linux kernel validated for loading, and its initrd (null if none); both shared through the pool. */
    private record LinuxFiles(LinuxKernel kernel, byte[] initrd) {
    }

    private KernelLoader(MachineConfig config, Path kernelPath, ElfImage testElf, byte[] testElfBytes, Path initrdPath, String cmdline,
                         boolean decompressOnHost, ImagePool images, LinuxFiles linux, AcpiTables acpi,
                         FirmwareImage firmware) {
        this.config = config;
        this.kernelPath = kernelPath;
        this.testElf = testElf;
        this.testElfBytes = testElfBytes;
        this.initrdPath = initrdPath;
        this.cmdline = cmdline;
        this.decompressOnHost = decompressOnHost;
        this.images = images;
        this.linux = linux;
        this.acpi = acpi;
        this.firmware = firmware;
    }

    /** Reads the files {@code config} names, holding their bytes through {@code images} (shared with other machines). */
    static KernelLoader read(MachineConfig config, ImagePool images) throws BootException {
        if (config.machineType() == MachineConfig.MachineType.NONE) {
            return new KernelLoader(config, null, null, null, null, null, false, images, null, null, null); // nothing to boot
        }
        Path path = config.kernel();
        if (path == null) {
            // no -kernel: the firmware boots whatever the disks hold; it loads the same ACPI tables through fw_cfg
            return new KernelLoader(config, null, null, null, null, null, false, images, null, acpiTables(config),
                FirmwareImage.read(config.firmware().bios()));
        }
        KernelFile.Loaded k = KernelFile.read(path);
        if (k.format() == KernelFile.Format.TEST_ELF) {
            if (config.initrd() != null || config.append() != null) {
                throw new BootException("-initrd and -append need a Linux kernel; " + path + " is a test-guest ELF");
            }
            byte[] bytes = images.share(k.bytes());
            return new KernelLoader(config, path, ElfImage.parse(bytes, "kernel " + path), bytes, null, null, false, images, null,
                null, null);
        }
        LinuxFiles linux = readLinux(k, config.initrd(), config.decompressOnHost(), images);
        return new KernelLoader(config, path, null, null, config.initrd(), config.append() == null ? "" : config.append(),
            config.decompressOnHost(), images, linux, acpiTables(config), null);
    }

    /**
     * Validates the Linux kernel {@code k} (a bzImage or vmlinux) and reads the initrd, so that a
     * bad file fails before the guest runs; each boot then streams the kernel into RAM.
     */
    private static LinuxFiles readLinux(KernelFile.Loaded k, Path initrdPath, boolean preferHost, ImagePool images)
        throws BootException {
        byte[] bytes = images.share(k.bytes());
        byte[] initrd = initrdPath == null ? null : images.share(readInitrd(initrdPath));
        // A payload format we cannot unpack on the host (xz, zstd...) falls back to the kernel's own decompressor, as QEMU always does.
        boolean onHost = preferHost && LinuxKernel.canDecompressOnHost(bytes);
        try {
            // validated once per kernel file and decompression choice while a machine holds it (the check decompresses the payload)
            return new LinuxFiles(images.derived(bytes, "linux kernel, decompressed on the host: " + onHost, LinuxKernel.class,
                () -> LinuxKernel.prepare(bytes, onHost)), initrd);
        } catch (BootException e) {
            throw new BootException("kernel " + k.path() + ": " + e.getMessage(), e);
        }
    }

    /** The Linux kernel and initrd read again for a reboot: a file changed since must still be a Linux kernel. */
    private LinuxFiles readLinuxAgain() throws BootException {
        KernelFile.Loaded k = KernelFile.read(kernelPath);
        if (k.format() == KernelFile.Format.TEST_ELF) {
            throw new BootException("kernel " + kernelPath + " is no longer a Linux kernel (read again for the reboot: "
                + "it is now a test-guest ELF)");
        }
        return readLinux(k, initrdPath, decompressOnHost, images);
    }

    /**
     * What the DSDT describes: the PC with its PCI host (on pc with the ACPI PCI hot-plug slots, on
     * q35 with the _OSC and, by default, ACPI PCI hot-plug of the root ports, whose places
     * {@link Machine} adds when it has wired them), or microvm with its virtio-mmio windows.
     */
    static AcpiTables acpiTables(MachineConfig config) throws BootException {
        AcpiTables tables = new AcpiTables(config.cpus()).com1(true).i8042(true);
        if (config.machineType().hasPci()) {
            tables.pciHost(PcPciLayout.of(config).acpi());
            PcHotplugSlots.notHotpluggable(config)
                .ifPresent(fixed -> tables.pciHotplug(AcpiPciHotplug.hotpluggableMask(fixed)));
            if (PcHotplugSlots.acpiPcieHotplug(config)) {
                tables.acpiPcieHotplug(List.of());   // the machine names the root ports once they are wired
            } else {
                tables.nativePcieHotplug(PcHotplugSlots.nativePcieHotplug(config));
            }
            return tables;
        }
        try {
            for (VirtioMmioSlot slot : VirtioMmioSlot.of(config)) {
                tables.addVirtioMmio(slot.base(), VirtioMmioTransport.WINDOW_SIZE, slot.gsi());
            }
        } catch (IllegalArgumentException e) {
            throw new BootException(e.getMessage(), e);
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
            throw new BootException("initrd " + p + " cannot be read: " + e.getMessage(), e);
        }
    }

    /**
     * Whether the guest is a PC operating system (a Linux kernel, or whatever the firmware boots):
     * it gets the ACPI platform (PM registers, power button). Not a test guest, not the none machine.
     */
    boolean isLinux() {
        return linuxKernel() || firmware != null;
    }

    /** Whether -kernel is a Linux kernel (not a test-guest ELF). */
    private boolean linuxKernel() {
        return kernelPath != null && testElf == null;
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

    /**
     * Holds the Linux kernel and initrd from now on (reading them again if they were let go), for
     * a process about to lose access to the files (a chroot, another user): its resets then load
     * what it holds, as QEMU's always do.
     */
    synchronized void hold() throws BootException {
        if (linuxKernel()) {
            if (linux == null) {
                linux = readLinuxAgain();
            }
            hold = true;
            if (config.rngSeed() && entropy == null) {
                try {
                    entropy = Files.newInputStream(URANDOM);
                } catch (IOException e) {
                    throw new BootException("opening " + URANDOM + " for the guest's RNG seed: " + e.getMessage(), e);
                }
            }
        }
    }

    synchronized X86State load(GuestMemory ram) throws BootException {
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
        if (kernelPath == null) {
            throw new BootException("the none machine has no guest to load");
        }
        if (testElf != null) {
            return TestGuestBoot.load(testElf, ram, testElfBytes, "kernel " + kernelPath);
        }
        LinuxFiles files = linux != null ? linux : readLinuxAgain();
        linux = hold ? files : null; // let the images go: the next boot reads them again
        AcpiTables.Placement tables = acpi.writeTo(ram);
        writeSmbios(ram);
        try {
            lastLinuxBoot = LinuxBoot.load(ram, files.kernel(), files.initrd(), cmdline, tables.rsdpAddress(),
                List.of(new ReservedRange(tables.start(), tables.length(), E820Map.Type.ACPI, "ACPI tables")), rngSeed());
        } catch (BootException e) {
            throw new BootException("kernel " + kernelPath + ": " + e.getMessage(), e);
        }
        return lastLinuxBoot.entryState();
    }

    /**
     * A fresh seed for the guest kernel's random number generator at every boot (-machine
     * rng-seed=on), as a setup_data node: with it the kernel's generator is ready before its first
     * use instead of late in the boot, so it stops recomputing BLAKE2s over its input pool for every
     * random number it hands out while unseeded (random.c crng_make_state; slab freelist
     * randomization alone asks for thousands). QEMU 7.1 passed one too (7.2 turned it
     * off again). A new seed per boot: a rebooted guest never starts
     * from its previous boot's seed. Null with rng-seed=off.
     */
    private SetupData rngSeed() throws BootException {
        if (!config.rngSeed()) {
            return null;
        }
        byte[] seed = new byte[SetupData.RNG_SEED_BYTES];
        try {
            int n;
            if (entropy != null) {
                n = entropy.readNBytes(seed, 0, seed.length);
            } else {
                try (InputStream in = Files.newInputStream(URANDOM)) {
                    n = in.readNBytes(seed, 0, seed.length);
                }
            }
            if (n != seed.length) {
                throw new BootException(URANDOM + " gave " + n + " bytes of the guest's " + seed.length + "-byte RNG seed");
            }
        } catch (IOException e) {
            throw new BootException("reading the guest's RNG seed from " + URANDOM + ": " + e.getMessage(), e);
        }
        return SetupData.rngSeed(seed);
    }

    /** The SMBIOS tables of this machine in {@code ram} (what its RAM ranges are). */
    SmbiosTables smbios(GuestMemory ram) {
        List<SmbiosTables.RamRange> ranges = ram.ranges().stream()
            .map(r -> new SmbiosTables.RamRange(r.guestAddress(), r.size())).toList();
        String version = KernelLoader.class.getPackage().getImplementationVersion();
        return new SmbiosTables(config.uuid(), config.cpus(), ranges, version != null ? version : "development");
    }

    /**
     * SMBIOS for a direct kernel boot: the 64-bit entry point at the start of its window in the
     * BIOS area, the structures after it (the guest finds them by scanning, as on a PC).
     */
    private void writeSmbios(GuestMemory ram) throws BootException {
        byte[] table = smbios(ram).structures();
        long at = BiosArea.SMBIOS_BASE + SmbiosTables.EP3_LENGTH + 8;   // 16-byte aligned after the entry point
        if (at + table.length > BiosArea.SMBIOS_BASE + BiosArea.SMBIOS_SIZE) {
            throw new BootException("the SMBIOS tables (" + table.length + " bytes) do not fit their 64 KiB window");
        }
        ram.fill(BiosArea.SMBIOS_BASE, BiosArea.SMBIOS_SIZE, (byte) 0);
        ram.write(BiosArea.SMBIOS_BASE, SmbiosTables.entryPoint64(at, table.length));
        ram.write(at, table);
    }

    /** Lets the Linux images go unloaded (the machine was restored from a snapshot): a reset reads them again. */
    synchronized void release() {
        if (!hold) {
            linux = null;
        }
    }

    /** Closes the entropy {@link #hold} kept open: the machine has ended and boots no more. */
    synchronized void close() {
        if (entropy != null) {
            try {
                entropy.close();
            } catch (IOException e) {
                // /dev/urandom held for reading: nothing of the guest's is lost with it
            }
            entropy = null;
        }
    }

    /** What the last Linux boot did, for -d boot; null for a test guest. */
    LinuxBootResult lastLinuxBoot() {
        return lastLinuxBoot;
    }
}
