package org.jvisor.guest;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a bootable raw disk image from Debian packages, the way a distribution lays one out: an
 * MS-DOS partition table with one ext4 partition (made by {@code mke2fs -d} from a directory, so
 * neither root nor a loop device is needed) holding Debian 12's cloud kernel, an initrd that
 * mounts the root file system, and a busybox root with an automatic root login on ttyS0; GRUB
 * ({@code grub-pc-bin}'s i386-pc boot.img, and a core.img made by {@code grub-mkimage} from
 * {@code grub-common}, both run from the extracted packages) in the MBR and the gap after it,
 * with a grub.cfg on the serial console. Packages come from {@link GuestBuilder}'s cache.
 *
 * <p>Command line: {@code java -cp target/classes org.jvisor.guest.DiskImageBuilder [--out FILE]}
 * (default {@code build/disk/disk.img}); prints the image's path.
 */
public final class DiskImageBuilder {
    public static final String GRUB_BIOS_PACKAGE = "grub-pc-bin";
    public static final String GRUB_TOOLS_PACKAGE = "grub-common";
    /** The image's size (sparse: only what the file system uses takes room on the host). */
    public static final long DISK_BYTES = 256L << 20;
    /** The root file system's UUID, which grub.cfg's root= names. */
    public static final String ROOT_UUID = "4a564953-4f52-4449-534b-000000000001";
    /** The initrd's drivers: virtio-blk and the IDE disk stack (-hda), so the image boots from either. */
    static final List<String> DISK_INITRD_MODULES = java.util.stream.Stream.concat(
        InitramfsBuilder.VIRTIO_MODULES.stream(), java.util.stream.Stream.of("ata_piix", "sd_mod")).toList();

    /** GRUB's modules in core.img: enough to read ext4 on an MBR disk through the BIOS and boot Linux. */
    static final List<String> GRUB_MODULES = List.of("biosdisk", "part_msdos", "ext2", "normal", "linux", "serial",
        "terminal", "boot");

    /** A built image. */
    public record DiskImage(Path image, String kernelVersion) {
    }

    private DiskImageBuilder() {
    }

    /** Builds the image into {@code image} (replaced), with packages from {@code cacheDir}. */
    public static DiskImage build(Path image, Path cacheDir, PrintStream log) throws IOException {
        long t0 = System.nanoTime();
        DebianPackages debs = new DebianPackages(cacheDir, log, false);
        DebianPackages.Kernel kernel = debs.kernel(GuestBuilder.KERNEL_PACKAGE);
        Path busybox = debs.extract(debs.fetch(GuestBuilder.BUSYBOX_PACKAGE)).resolve("bin/busybox");
        Path grubLib = debs.extract(debs.fetch(GRUB_BIOS_PACKAGE)).resolve("usr/lib/grub/i386-pc");
        Path grubMkimage = debs.extract(debs.fetch(GRUB_TOOLS_PACKAGE)).resolve("usr/bin/grub-mkimage");
        Path work = Files.createTempDirectory(image.toAbsolutePath().getParent(), "disk-build.");
        try {
            Path root = work.resolve("root");
            rootTree(root, busybox, kernel);
            Path core = work.resolve("core.img");
            List<String> cmd = new ArrayList<>(List.of(grubMkimage.toString(), "-O", "i386-pc", "-d", grubLib.toString(),
                "-o", core.toString(), "-p", "(hd0,msdos1)/boot/grub"));
            cmd.addAll(GRUB_MODULES);
            check(DebianPackages.run(cmd, work, 120), "grub-mkimage");
            partitionedExt4(image, DISK_BYTES, ROOT_UUID, root, work, Files.readAllBytes(grubLib.resolve("boot.img")),
                Files.readAllBytes(core));
        } finally {
            DebianPackages.deleteTree(work);
        }
        log.printf("disk: %s built in %.1f s: kernel %s, GRUB %s, ext4 root UUID %s%n", image,
            (System.nanoTime() - t0) / 1e9, kernel.version(), GRUB_BIOS_PACKAGE, ROOT_UUID);
        return new DiskImage(image, kernel.version());
    }

    /**
     * Writes {@code image} (replaced; sparse, {@code diskBytes} long): an MS-DOS partition table
     * with one ext4 partition made by {@code mke2fs -d} from {@code root}, labelled "root" with
     * {@code uuid}, and GRUB's boot.img and core.img in the MBR and the gap after it.
     */
    static void partitionedExt4(Path image, long diskBytes, String uuid, Path root, Path work, byte[] bootImg,
            byte[] coreImg) throws IOException {
        Files.deleteIfExists(image);
        try (var ch = Files.newByteChannel(image, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.position(diskBytes - 1).write(java.nio.ByteBuffer.wrap(new byte[1])); // sparse
        }
        long fsKib = (diskBytes - MbrDisk.partitionOffset()) / 1024;
        check(DebianPackages.run(List.of(mke2fs(), "-q", "-F", "-t", "ext4", "-L", "root", "-U", uuid,
            "-d", root.toString(), "-E", "offset=" + MbrDisk.partitionOffset(), image.toString(), fsKib + "k"),
            work, 600), "mke2fs");
        MbrDisk.install(image, diskBytes, bootImg, coreImg);
    }

    /** The root file system's tree: busybox, its init configuration, /boot with kernel, initrd and GRUB's configuration. */
    private static void rootTree(Path root, Path busybox, DebianPackages.Kernel kernel) throws IOException {
        for (String d : List.of("bin", "dev", "etc/init.d", "proc", "sys", "run", "tmp", "root", "mnt", "usr",
                "boot/grub", "var/log")) {
            Files.createDirectories(root.resolve(d));
        }
        Files.createSymbolicLink(root.resolve("sbin"), Path.of("bin"));
        Files.createSymbolicLink(root.resolve("usr/bin"), Path.of("../bin"));
        Files.createSymbolicLink(root.resolve("usr/sbin"), Path.of("../bin"));
        Files.copy(busybox, root.resolve("bin/busybox"));
        mode(root.resolve("bin/busybox"), "rwxr-xr-x");
        for (String applet : InitramfsBuilder.applets(busybox)) {
            Files.createSymbolicLink(root.resolve("bin/" + applet), Path.of("busybox"));
        }
        Files.createSymbolicLink(root.resolve("bin/init"), Path.of("busybox"));
        text(root, "etc/inittab", DiskImageFiles.INITTAB, "rw-r--r--");
        text(root, "etc/init.d/rcS", DiskImageFiles.RCS, "rwxr-xr-x");
        text(root, "bin/autologin", DiskImageFiles.AUTOLOGIN, "rwxr-xr-x");
        text(root, "etc/profile", DiskImageFiles.PROFILE, "rw-r--r--");
        text(root, "etc/os-release", DiskImageFiles.OS_RELEASE, "rw-r--r--");
        text(root, "etc/hostname", DiskImageFiles.HOSTNAME + "\n", "rw-r--r--");
        text(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", "rw-r--r--");
        text(root, "etc/shadow", "root:*:19000:0:99999:7:::\n", "rw-------");
        text(root, "etc/group", "root:x:0:\ntty:x:5:\n", "rw-r--r--");
        text(root, "etc/fstab", "UUID=" + ROOT_UUID + " / ext4 rw 0 1\n", "rw-r--r--");
        text(root, "boot/grub/grub.cfg", DiskImageFiles.grubCfg(ROOT_UUID), "rw-r--r--");
        Files.copy(kernel.vmlinuz(), root.resolve("boot/vmlinuz"));
        try (OutputStream out = Files.newOutputStream(root.resolve("boot/initrd.img"))) {
            new InitramfsBuilder(busybox, kernel.moduleDir(), kernel.version(), DISK_INITRD_MODULES)
                .init(DiskImageFiles::initrdInit)
                .write(out);
        }
    }

    private static void text(Path root, String path, String content, String mode) throws IOException {
        Path p = root.resolve(path);
        Files.writeString(p, content, StandardCharsets.UTF_8);
        mode(p, mode);
    }

    private static void mode(Path p, String mode) throws IOException {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
    }

    /** mke2fs from e2fsprogs, also where a non-root PATH lacks /sbin. */
    private static String mke2fs() throws GuestBuildException {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "mke2fs"))) {
                return Path.of(dir, "mke2fs").toString();
            }
        }
        for (String p : List.of("/usr/sbin/mke2fs", "/sbin/mke2fs")) {
            if (Files.isExecutable(Path.of(p))) {
                return p;
            }
        }
        throw new GuestBuildException("mke2fs not found: install Debian's e2fsprogs package");
    }

    static void check(DebianPackages.Result r, String what) throws GuestBuildException {
        if (r.status() != 0) {
            throw new GuestBuildException(what + " failed (status " + r.status() + "): " + r.output().strip());
        }
    }

    /** {@code [--out FILE]}: builds the image; status 1 and one line on error. */
    public static void main(String[] args) {
        Path out = GuestBuilder.defaultOutDir().resolveSibling("disk").resolve("disk.img");
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--out") && i + 1 < args.length) {
                out = Path.of(args[++i]);
            } else {
                System.err.println("disk: usage: DiskImageBuilder [--out FILE]");
                System.exit(1);
            }
        }
        try {
            Files.createDirectories(out.toAbsolutePath().getParent());
            System.out.println(build(out.toAbsolutePath(), GuestBuilder.defaultCacheDir(), System.err).image());
        } catch (IOException e) {
            System.err.println("disk: " + e.getMessage());
            System.exit(1);
        }
    }
}
