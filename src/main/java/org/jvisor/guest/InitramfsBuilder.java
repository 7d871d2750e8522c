package org.jvisor.guest;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Lays out the demo guest's initramfs and writes it as a gzip-compressed newc cpio archive:
 * <pre>
 *   /init                          the script of {@link InitScript}
 *   /bin/busybox                   busybox-static, and a symlink in /bin for each applet
 *   /sbin, /usr/bin, /usr/sbin     symlinks to /bin
 *   /dev/console (5,1), /dev/null (1,3), /dev/tty (5,0), /dev/ttyS0 (4,64)
 *   /lib/modules/VERSION/kernel/... the virtio, power button, IDE and VFIO modules, their dependencies, modules.dep
 *   /etc/acpi/PWRF/00000080        the power button's action for acpid
 *   /proc /sys /tmp /run /root /mnt /etc (passwd, group, hostname)
 * </pre>
 */
public final class InitramfsBuilder {

    /** The virtio drivers the guest loads (module names; their dependencies come along). */
    public static final List<String> VIRTIO_MODULES = List.of(
            "virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
            "virtio_mmio", "virtio_blk", "virtio_net", "virtio_rng", "virtio_console");

    /**
     * The ACPI power button: {@code button} (the fixed power button as an input device; Debian's
     * ACPI_BUTTON=m) and {@code evdev} (its /dev/input/event node, which acpid reads).
     */
    public static final List<String> ACPI_BUTTON_MODULES = List.of("button", "evdev");

    /**
     * The IDE disk and CD-ROM drivers (Debian builds ATA and SCSI as modules): {@code ata_piix}
     * for the PIIX3 IDE function, {@code sd_mod} and {@code sr_mod} for /dev/sdX and /dev/srN,
     * {@code isofs} to mount a CD. /init loads them only when the machine has a PIIX IDE function,
     * so a boot without IDE drives pays nothing but the archive's size.
     */
    public static final List<String> IDE_MODULES = List.of("ata_piix", "sd_mod", "sr_mod", "isofs");

    /**
     * The AHCI driver for q35's SATA controller. Debian's cloud kernel does not build it
     * (SATA_AHCI is off), so the demo guest leaves it out; an initramfs for the generic kernel
     * (linux-image-VERSION-amd64) adds it, and /init loads it with the IDE modules.
     */
    public static final List<String> AHCI_MODULES = List.of("ahci");

    /** The modules {@link #IDE_MODULES} bring, which nothing else needs: loaded only with an IDE controller. */
    public static final java.util.Set<String> IDE_ONLY_MODULES = java.util.Set.of(
            "scsi_common", "scsi_mod", "libata", "ata_piix", "sd_mod", "cdrom", "sr_mod", "isofs", "libahci", "ahci");

    /**
     * VFIO, to hand a PCI function behind the IOMMU (-device intel-iommu) to user space: vfio-pci
     * and the type 1 IOMMU backend (Debian's VFIO=m, VFIO_PCI=m). /init does not load them (a
     * boot without VFIO pays only the archive's size); {@code modprobe vfio-pci vfio_iommu_type1}
     * in the guest does, with their dependencies from the archive's modules.dep.
     */
    public static final List<String> VFIO_MODULES = List.of("vfio", "vfio_iommu_type1", "vfio-pci");

    /** The modules {@link #VFIO_MODULES} bring, which nothing else needs: left to modprobe. */
    public static final java.util.Set<String> VFIO_ONLY_MODULES = java.util.Set.of(
            "vfio", "vfio_iommu_type1", "vfio_virqfd", "irqbypass", "vfio_pci_core", "vfio_pci");

    /**
     * The memory balloon's driver: loaded only when the machine has a virtio-balloon (virtio device
     * ID 5 on the virtio bus, PCI or MMIO), so other boots do not pay for its signature check.
     */
    public static final String BALLOON_MODULE = "virtio_balloon";

    /** Every module in the archive, in load order (each after its dependencies). */
    public static final List<String> MODULES = Stream.of(
            VIRTIO_MODULES.stream(), Stream.of(BALLOON_MODULE), ACPI_BUTTON_MODULES.stream(), IDE_MODULES.stream(),
            VFIO_MODULES.stream())
            .flatMap(m -> m).toList();

    /**
     * Applets linked when busybox cannot be asked for its list ({@code busybox --list} is run on
     * the host when it can execute the x86-64 binary).
     */
    static final List<String> FALLBACK_APPLETS = List.of(
            "sh", "ash", "cat", "cp", "cttyhack", "date", "dd", "df", "dmesg", "echo", "env", "false",
            "free", "grep", "head", "hexdump", "hostname", "httpd", "ifconfig", "insmod", "ip", "kill",
            "ln", "ls", "lsmod", "md5sum", "mkdir", "mknod", "modprobe", "mount", "mv", "nc", "ping",
            "poweroff", "printf", "ps", "reboot", "rm", "rmmod", "sed", "seq", "setsid", "sha256sum",
            "sleep", "sync", "tail", "test", "[", "time", "top", "true", "udhcpc", "umount", "uname",
            "uptime", "vi", "wc", "wget", "xxd", "base64", "od", "tr", "cut", "sort", "stat", "tee", "acpid");

    /** What went into an initramfs. */
    public record Contents(String kernelVersion, List<KernelModules.Module> modules, List<String> applets,
                           String init, long cpioSize) {}

    private final Path busybox;
    private final Path moduleDir;
    private final String kernelVersion;
    private final List<String> wantedModules;
    private long mtime;
    private java.util.function.Function<List<KernelModules.Module>, String> initScript;

    /**
     * An initramfs with the given busybox binary and the {@code wantedModules} (plus their
     * dependencies) taken from {@code moduleDir} (an extracted {@code lib/modules/VERSION}).
     */
    public InitramfsBuilder(Path busybox, Path moduleDir, String kernelVersion, List<String> wantedModules) {
        this.busybox = busybox;
        this.moduleDir = moduleDir;
        this.kernelVersion = kernelVersion;
        this.wantedModules = List.copyOf(wantedModules);
    }

    /**
     * The /init script for the load order of the modules (default: the demo guest's
     * {@link InitScript}); a disk image's initrd mounts the root file system instead.
     */
    public InitramfsBuilder init(java.util.function.Function<List<KernelModules.Module>, String> script) {
        this.initScript = script;
        return this;
    }

    /** The mtime of every entry (default 0), e.g. a SOURCE_DATE_EPOCH. */
    public InitramfsBuilder mtime(long seconds) {
        this.mtime = seconds;
        return this;
    }

    /** The modules to load, dependencies first. */
    public List<KernelModules.Module> loadOrder() throws IOException {
        return KernelModules.scan(moduleDir, kernelVersion).loadOrder(wantedModules);
    }

    /** Writes the gzip-compressed archive to {@code out} (closed at the end). */
    public Contents write(OutputStream out) throws IOException {
        if (!Files.isRegularFile(busybox)) {
            throw new GuestBuildException("no busybox binary at " + busybox);
        }
        List<KernelModules.Module> modules = loadOrder();
        List<String> applets = applets(busybox);
        String init = initScript != null ? initScript.apply(modules) : InitScript.render(kernelVersion, modules);
        long size;
        try (CpioWriter cpio = CpioWriter.gzip(out, mtime)) {
            for (String d : List.of("bin", "dev", "etc", "lib", "proc", "sys", "run", "mnt", "usr")) {
                cpio.directory(d, 0755);
            }
            cpio.directory("root", 0700);
            cpio.directory("tmp", 01777);
            cpio.symlink("sbin", "bin");
            cpio.symlink("usr/bin", "../bin");
            cpio.symlink("usr/sbin", "../bin");

            // Device nodes the kernel and /init need before devtmpfs is mounted over /dev.
            cpio.charDevice("dev/console", 0600, 5, 1);
            cpio.charDevice("dev/null", 0666, 1, 3);
            cpio.charDevice("dev/tty", 0666, 5, 0);
            cpio.charDevice("dev/ttyS0", 0660, 4, 64);

            cpio.file("etc/passwd", 0644, "root:x:0:0:root:/root:/bin/sh\n".getBytes(StandardCharsets.US_ASCII));
            cpio.file("etc/group", 0644, "root:x:0:\ntty:x:5:\n".getBytes(StandardCharsets.US_ASCII));
            cpio.file("etc/hostname", 0644, "jvisor\n".getBytes(StandardCharsets.US_ASCII));
            cpio.directory("etc/acpi", 0755);
            cpio.directory("etc/acpi/PWRF", 0755);
            cpio.file(InitScript.POWER_BUTTON_ACTION_PATH, 0755,
                    InitScript.POWER_BUTTON_ACTION.getBytes(StandardCharsets.US_ASCII));

            cpio.file("bin/busybox", 0755, busybox);
            for (String a : applets) {
                cpio.symlink("bin/" + a, "busybox");
            }

            String modBase = "lib/modules/" + kernelVersion + "/";
            cpio.directory(modBase, 0755);
            for (KernelModules.Module m : modules) {
                cpio.file(modBase + m.path(), 0644, moduleDir.resolve(m.path()));
            }
            cpio.file(modBase + "modules.dep", 0644,
                    KernelModules.modulesDep(modules).getBytes(StandardCharsets.UTF_8));
            StringBuilder order = new StringBuilder();
            for (KernelModules.Module m : modules) {
                order.append(m.path()).append('\n');
            }
            cpio.file(modBase + "modules.order", 0644, order.toString().getBytes(StandardCharsets.UTF_8));

            cpio.file("init", 0755, init.getBytes(StandardCharsets.UTF_8));
            cpio.finish();
            size = cpio.size();
        }
        return new Contents(kernelVersion, modules, applets, init, size);
    }

    /**
     * The applets to link: {@code busybox --list} (run on the host; it is a static x86-64
     * binary), or {@link #FALLBACK_APPLETS} when it cannot run. Never "busybox", "init" or
     * "linuxrc" (the kernel must run our /init).
     */
    static List<String> applets(Path busybox) {
        TreeSet<String> names = new TreeSet<>();
        try {
            DebianPackages.Result r = DebianPackages.run(List.of(busybox.toAbsolutePath().toString(), "--list"),
                    busybox.toAbsolutePath().getParent(), 30);
            if (r.status() == 0) {
                for (String line : r.output().split("\n")) {
                    String a = line.strip();
                    if (a.matches("[A-Za-z0-9_.\\[\\]-]+")) {
                        names.add(a);
                    }
                }
            }
        } catch (IOException e) {
            // not runnable here (another architecture, noexec mount): use the fixed list
        }
        if (names.size() < 20) {
            names.clear();
            names.addAll(FALLBACK_APPLETS);
        }
        names.removeAll(List.of("busybox", "init", "linuxrc"));
        return new ArrayList<>(names);
    }
}
