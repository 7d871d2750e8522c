package org.jvisor.guest;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Builds a Debian 12 disk image the way the distribution's own tools lay one out, for booting
 * through firmware as a user's cloud image boots: {@code debootstrap} installs a minimal Debian
 * (the host's release, from the host's own apt source) with Debian's cloud kernel, an initrd made
 * by initramfs-tools during the kernel's installation, sysvinit, udev and GRUB; the root file
 * system gets an fstab, a host name, a password-less root logged in automatically on ttyS0, and a
 * grub.cfg on the serial console; then it becomes an ext4 partition behind an MBR with GRUB's
 * boot.img and a core.img made by the image's own {@code grub-mkimage}, and {@code qemu-img
 * convert} turns the raw disk into qcow2.
 *
 * <p>debootstrap and chroot need root; a host without them, or without a Debian source in apt's
 * configuration, gets a one-line error naming what is missing. sysvinit rather than systemd keeps
 * the boot short on a software CPU (systemd's start-up is about twice as long on QEMU TCG here)
 * while it is still the distribution's init, its rc scripts and its udev.
 *
 * <p>Command line: {@code java -cp target/jvisor.jar org.jvisor.guest.DistroImageBuilder [--out FILE]}
 * (default {@code build/disk/debian.qcow2}); prints the image's path.
 */
public final class DistroImageBuilder {
    /** What debootstrap installs on top of its minimal base. */
    public static final List<String> PACKAGES = List.of(GuestBuilder.KERNEL_PACKAGE, "initramfs-tools",
        "sysvinit-core", "udev", "grub-pc-bin", "login", "passwd", "procps");
    /** The raw disk's size before conversion (qcow2 then holds only what the file system uses). */
    public static final long DISK_BYTES = 2L << 30;
    /** The root file system's UUID, which fstab and grub.cfg name. */
    public static final String ROOT_UUID = "4a564953-4f52-4449-534b-000000000002";
    public static final String HOSTNAME = "jvisor-debian";
    /** The start of the root shell's prompt after the automatic login ("root@jvisor-debian:~# "). */
    public static final String PROMPT = "root@" + HOSTNAME + ":";
    private static final long DEBOOTSTRAP_TIMEOUT_S = 1800;

    /** A built image: the qcow2 file, the kernel's release and the Debian release installed. */
    public record DistroImage(Path image, String kernelRelease, String debianVersion) {
    }

    private DistroImageBuilder() {
    }

    /** Bumped whenever what {@link #build} makes changes, so that a cached image is rebuilt. */
    private static final int LAYOUT = 1;

    /**
     * The image kept in the guest cache beside {@code cacheDir} ({@code ../distro}), built on first
     * use; its name holds a digest of what the build installs and configures.
     */
    public static DistroImage cached(Path cacheDir, PrintStream log) throws IOException {
        String key = Integer.toHexString((String.join(",", PACKAGES) + ROOT_UUID + HOSTNAME + LAYOUT).hashCode());
        Path image = cacheDir.resolveSibling("distro").resolve("debian-" + key + ".qcow2");
        Path info = image.resolveSibling(image.getFileName() + ".release");
        if (Files.isRegularFile(image) && Files.isRegularFile(info)) {
            List<String> lines = Files.readAllLines(info);
            if (lines.size() == 2) {
                return new DistroImage(image, lines.get(0), lines.get(1));
            }
        }
        DistroImage built = build(image, log);
        Files.write(info, List.of(built.kernelRelease(), built.debianVersion()));
        return built;
    }

    /** Builds the image into {@code image} (replaced). */
    public static DistroImage build(Path image, PrintStream log) throws IOException {
        long t0 = System.nanoTime();
        String debootstrap = tool("debootstrap", "debootstrap");
        String qemuImg = tool("qemu-img", "qemu-utils");
        tool("mke2fs", "e2fsprogs");
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new GuestBuildException("building the Debian image runs debootstrap and chroot, which need root");
        }
        AptSource source = AptSource.ofHost();
        Path dir = image.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path work = Files.createTempDirectory(dir, "distro-build.");
        try {
            Path root = work.resolve("root");
            log.println("distro: debootstrap " + source.suite() + " with " + String.join(",", PACKAGES));
            check(DebianPackages.run(List.of(debootstrap, "--variant=minbase", "--include=" + String.join(",", PACKAGES),
                source.suite(), root.toString(), source.uri()), work, DEBOOTSTRAP_TIMEOUT_S), "debootstrap");
            String release = kernelRelease(root);
            configure(root, release);
            Path core = work.resolve("core.img");
            List<String> mkimage = new ArrayList<>(List.of("chroot", root.toString(), "grub-mkimage", "-O", "i386-pc",
                "-o", "/core.img", "-p", "(hd0,msdos1)/boot/grub"));
            mkimage.addAll(DiskImageBuilder.GRUB_MODULES);
            check(DebianPackages.run(mkimage, work, 120), "grub-mkimage");
            Files.move(root.resolve("core.img"), core);
            byte[] bootImg = Files.readAllBytes(root.resolve("usr/lib/grub/i386-pc/boot.img"));
            String debianVersion = Files.readString(root.resolve("etc/debian_version")).strip();
            Path raw = work.resolve("disk.raw");
            DiskImageBuilder.partitionedExt4(raw, DISK_BYTES, ROOT_UUID, root, work, bootImg, Files.readAllBytes(core));
            Path qcow2 = work.resolve("disk.qcow2");
            check(DebianPackages.run(List.of(qemuImg, "convert", "-f", "raw", "-O", "qcow2", raw.toString(),
                qcow2.toString()), work, 600), "qemu-img convert");
            Files.move(qcow2, image, StandardCopyOption.REPLACE_EXISTING);
            log.printf("distro: %s built in %.1f s: Debian %s, kernel %s, ext4 root UUID %s%n", image,
                (System.nanoTime() - t0) / 1e9, debianVersion, release, ROOT_UUID);
            return new DistroImage(image, release, debianVersion);
        } finally {
            DebianPackages.deleteTree(work);
        }
    }

    /** The one kernel release under /boot, whose initrd initramfs-tools made. */
    private static String kernelRelease(Path root) throws IOException {
        try (Stream<Path> boot = Files.list(root.resolve("boot"))) {
            List<String> releases = boot.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("vmlinuz-"))
                .map(n -> n.substring("vmlinuz-".length())).sorted().toList();
            if (releases.size() != 1) {
                throw new GuestBuildException("debootstrap installed " + releases.size() + " kernels, expected one: "
                    + releases);
            }
            String r = releases.getFirst();
            if (!Files.isRegularFile(root.resolve("boot/initrd.img-" + r))) {
                throw new GuestBuildException("initramfs-tools made no /boot/initrd.img-" + r);
            }
            return r;
        }
    }

    /** What the installer would have asked: file systems, host name, console login, boot loader. */
    private static void configure(Path root, String release) throws IOException {
        write(root, "etc/fstab", "UUID=" + ROOT_UUID + " / ext4 errors=remount-ro 0 1\n");
        write(root, "etc/hostname", HOSTNAME + "\n");
        write(root, "etc/hosts", "127.0.0.1\tlocalhost\n127.0.1.1\t" + HOSTNAME + "\n");
        // root without a password (the image is a test guest), logged in by agetty on the console
        Path shadow = root.resolve("etc/shadow");
        String s = Files.readString(shadow);
        if (!s.startsWith("root:")) {
            throw new GuestBuildException("unexpected /etc/shadow from debootstrap: no root entry first");
        }
        Files.writeString(shadow, s.replaceFirst("^root:[^:]*:", "root::"));
        // sysvinit's inittab: no gettys on virtual consoles (there is no display), one on ttyS0
        Path inittab = root.resolve("etc/inittab");
        StringBuilder t = new StringBuilder();
        for (String line : Files.readAllLines(inittab)) {
            t.append(line.matches("^[1-6]:.*respawn:.*") ? "#" + line : line).append('\n');
        }
        t.append("T0:2345:respawn:/sbin/agetty --autologin root --noclear -L ttyS0 115200 vt100\n");
        Files.writeString(inittab, t.toString());
        write(root, "boot/grub/grub.cfg", DiskImageFiles.grubCfg("Debian GNU/Linux, with Linux " + release,
            "/boot/vmlinuz-" + release, "/boot/initrd.img-" + release, "root=UUID=" + ROOT_UUID + " ro console=ttyS0"));
        // the downloaded .debs and apt's lists are not part of an installed system
        for (String d : List.of("var/cache/apt/archives", "var/lib/apt/lists")) {
            try (Stream<Path> files = Files.list(root.resolve(d))) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    Files.delete(f);
                }
            }
        }
    }

    private static void write(Path root, String path, String content) throws IOException {
        Path p = root.resolve(path);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content, StandardCharsets.UTF_8);
    }

    private static void check(DebianPackages.Result r, String what) throws GuestBuildException {
        if (r.status() != 0) {
            String out = r.output().strip();
            // debootstrap's log is long: its last lines say what failed
            List<String> lines = out.lines().toList();
            throw new GuestBuildException(what + " failed (status " + r.status() + "): "
                + String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size())));
        }
    }

    /** {@code name} on PATH or in /usr/sbin, /sbin; else an error naming Debian's package. */
    static String tool(String name, String debianPackage) throws GuestBuildException {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin"));
        for (String d : dirs) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, name))) {
                return Path.of(d, name).toString();
            }
        }
        throw new GuestBuildException(name + " not found: install Debian's " + debianPackage + " package");
    }

    /** {@code [--out FILE]}: builds the image; status 1 and one line on error. */
    public static void main(String[] args) {
        Path out = GuestBuilder.defaultOutDir().resolveSibling("disk").resolve("debian.qcow2");
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--out") && i + 1 < args.length) {
                out = Path.of(args[++i]);
            } else {
                System.err.println("distro: usage: DistroImageBuilder [--out FILE]");
                System.exit(1);
            }
        }
        try {
            System.out.println(build(out.toAbsolutePath(), System.err).image());
        } catch (IOException e) {
            System.err.println("distro: " + e.getMessage());
            System.exit(1);
        }
    }
}
