package org.jvisor.guest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Builds the reference Linux guest from Debian packages: Debian 12's cloud kernel
 * ({@code linux-image-cloud-amd64}) and an initramfs with busybox-static, the virtio and power
 * button modules and the {@link InitScript /init}. Outputs, in the output directory (default {@code build/guest} at
 * the repository root):
 * <pre>
 *   vmlinuz              the kernel's bzImage (boot/vmlinuz-VERSION of the package)
 *   initramfs.cpio.gz    the initramfs (newc cpio, gzip)
 *   kernel-version       VERSION and a newline, e.g. 6.1.0-56-cloud-amd64
 *   guest.stamp          what was built from what, with the outputs' SHA-256
 * </pre>
 * Nothing is redone when the stamp matches the outputs and this builder's recipe; {@code force}
 * rebuilds, {@code refresh} also fetches the packages again (to pick up a newer kernel). Packages are cached in
 * {@link #defaultCacheDir()}, so after one download the build works offline.
 *
 * <p>Command line: {@code java -cp target/classes org.jvisor.guest.GuestBuilder [--out DIR]
 * [--cache DIR] [--force] [--refresh]}; prints the output paths, one per line, at the end.
 */
public final class GuestBuilder {

    /** The kernel metapackage (tracks the newest 6.1 cloud kernel of Debian 12). */
    public static final String KERNEL_PACKAGE = "linux-image-cloud-amd64";
    /** The busybox package: a static binary, so the initramfs needs no libc. */
    public static final String BUSYBOX_PACKAGE = "busybox-static";

    public static final String VMLINUZ = "vmlinuz", INITRAMFS = "initramfs.cpio.gz",
            KERNEL_VERSION = "kernel-version", STAMP = "guest.stamp";

    /** Bump when the layout or the recipe changes in a way the init template does not show. */
    static final int RECIPE_VERSION = 1;

    /** A built guest. */
    public record Guest(Path dir, Path kernel, Path initramfs, String kernelVersion, List<String> modules) {}

    private GuestBuilder() {
    }

    /** {@code build/guest} under the repository root ({@code -Djvisor.root}, else the working directory). */
    public static Path defaultOutDir() {
        return Path.of(System.getProperty("jvisor.root", ".")).toAbsolutePath().normalize().resolve("build/guest");
    }

    /**
     * The package cache: {@code -Djvisor.guest.cache}, else {@code $JVISOR_GUEST_CACHE}, else
     * {@code $XDG_CACHE_HOME/jvisor/debian} ({@code ~/.cache/jvisor/debian}). Outside the
     * repository so that clean checkouts and isolated builds share it.
     */
    public static Path defaultCacheDir() {
        String p = System.getProperty("jvisor.guest.cache");
        if (p == null || p.isBlank()) {
            p = System.getenv("JVISOR_GUEST_CACHE");
        }
        if (p != null && !p.isBlank()) {
            return Path.of(p).toAbsolutePath();
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("jvisor/debian").toAbsolutePath();
    }

    /**
     * Builds (or finds up to date) the guest in {@code outDir}, packages cached in
     * {@link #defaultCacheDir()}; {@code force} rebuilds even when up to date.
     */
    public static Guest build(Path outDir, boolean force, PrintStream log) throws IOException {
        return build(outDir, defaultCacheDir(), force, false, log);
    }

    /**
     * Builds (or finds up to date) the guest in {@code outDir}, packages cached in
     * {@code cacheDir}. {@code force}: rebuild even when up to date; {@code refresh}: download
     * the packages again even when cached (implies {@code force}), to pick up a newer kernel.
     */
    public static Guest build(Path outDir, Path cacheDir, boolean force, boolean refresh, PrintStream log)
            throws IOException {
        outDir = outDir.toAbsolutePath().normalize();
        if (!force && !refresh) {
            Optional<Guest> existing = existing(outDir);
            if (existing.isPresent()) {
                log.println("guest: up to date in " + outDir + " (kernel " + existing.get().kernelVersion() + ")");
                return existing.get();
            }
        }
        // One build at a time per package cache, across threads and processes (parallel test JVMs).
        Files.createDirectories(cacheDir);
        LOCK.lock();
        try (FileChannel ch = FileChannel.open(cacheDir.resolve(".lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            ch.lock();                                          // released when the channel closes
            if (!force && !refresh) {
                Optional<Guest> existing = existing(outDir);   // built by someone else meanwhile
                if (existing.isPresent()) {
                    return existing.get();
                }
            }
            return buildLocked(outDir, cacheDir, refresh, log);
        } finally {
            LOCK.unlock();
        }
    }

    private static final ReentrantLock LOCK = new ReentrantLock();

    private static Guest buildLocked(Path outDir, Path cacheDir, boolean refresh, PrintStream log) throws IOException {
        long t0 = System.nanoTime();
        DebianPackages debs = new DebianPackages(cacheDir, log, refresh);
        DebianPackages.Kernel kernel = debs.kernel(KERNEL_PACKAGE);
        DebianPackages.Deb busyboxDeb = debs.fetch(BUSYBOX_PACKAGE);
        Path busybox = debs.extract(busyboxDeb).resolve("bin/busybox");
        checkBzImage(kernel.vmlinuz());

        Files.createDirectories(outDir);
        Files.deleteIfExists(outDir.resolve(STAMP));  // outputs are inconsistent until the new stamp lands

        log.println("guest: kernel " + kernel.version() + " (" + kernel.deb().name() + " " + kernel.deb().version()
                + "), busybox " + busyboxDeb.version());
        // Each output is written to a temporary file and renamed into place.
        Path vmlinuz = outDir.resolve(VMLINUZ);
        Path tmpKernel = tempFile(outDir, VMLINUZ);
        Files.copy(kernel.vmlinuz(), tmpKernel, StandardCopyOption.REPLACE_EXISTING);
        move(tmpKernel, vmlinuz);

        Path initramfs = outDir.resolve(INITRAMFS);
        Path tmpInitramfs = tempFile(outDir, INITRAMFS);
        InitramfsBuilder.Contents contents;
        try (OutputStream out = Files.newOutputStream(tmpInitramfs)) {
            contents = new InitramfsBuilder(busybox, kernel.moduleDir(), kernel.version(), InitramfsBuilder.MODULES)
                    .write(out);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmpInitramfs);
            throw e;
        }
        move(tmpInitramfs, initramfs);
        Path tmpVersion = tempFile(outDir, KERNEL_VERSION);
        Files.writeString(tmpVersion, kernel.version() + "\n");
        move(tmpVersion, outDir.resolve(KERNEL_VERSION));

        List<String> modules = contents.modules().stream().map(KernelModules.Module::name).toList();
        Map<String, String> stamp = new LinkedHashMap<>();
        stamp.put("recipe", recipe());
        stamp.put("kernel-version", kernel.version());
        stamp.put("kernel-package", kernel.deb().name() + " " + kernel.deb().version());
        stamp.put("busybox-package", busyboxDeb.name() + " " + busyboxDeb.version());
        stamp.put("modules", String.join(" ", modules));
        stamp.put("applets", Integer.toString(contents.applets().size()));
        for (String f : List.of(VMLINUZ, INITRAMFS, KERNEL_VERSION)) {
            stamp.put("sha256." + f, sha256(outDir.resolve(f)));
        }
        StringBuilder sb = new StringBuilder("# jvisor demo guest, written by org.jvisor.guest.GuestBuilder\n");
        stamp.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        Path tmpStamp = tempFile(outDir, STAMP);
        Files.writeString(tmpStamp, sb.toString());
        move(tmpStamp, outDir.resolve(STAMP));

        log.printf("guest: built in %.1f s: %s (%d KiB), %s (%d KiB, %d KiB uncompressed), modules: %s%n",
                (System.nanoTime() - t0) / 1e9, vmlinuz, Files.size(vmlinuz) / 1024, initramfs,
                Files.size(initramfs) / 1024, contents.cpioSize() / 1024, String.join(" ", modules));
        return new Guest(outDir, vmlinuz, initramfs, kernel.version(), modules);
    }

    /**
     * The guest already built in {@code outDir}, if its stamp matches this builder's recipe and
     * the outputs' checksums; empty otherwise. Never downloads anything: tests of other parts
     * can use it to find a guest and skip when there is none.
     */
    public static Optional<Guest> existing(Path outDir) throws IOException {
        Path stampFile = outDir.resolve(STAMP);
        if (!Files.isRegularFile(stampFile)) {
            return Optional.empty();
        }
        Map<String, String> stamp = new LinkedHashMap<>();
        for (String line : Files.readAllLines(stampFile)) {
            int eq = line.indexOf('=');
            if (!line.startsWith("#") && eq > 0) {
                stamp.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        if (!recipe().equals(stamp.get("recipe"))) {
            return Optional.empty();
        }
        for (String f : List.of(VMLINUZ, INITRAMFS, KERNEL_VERSION)) {
            Path p = outDir.resolve(f);
            if (!Files.isRegularFile(p) || !sha256(p).equals(stamp.get("sha256." + f))) {
                return Optional.empty();
            }
        }
        String modules = stamp.getOrDefault("modules", "");
        return Optional.of(new Guest(outDir, outDir.resolve(VMLINUZ), outDir.resolve(INITRAMFS),
                stamp.get("kernel-version"), modules.isEmpty() ? List.of() : List.of(modules.split(" "))));
    }

    /**
     * A digest of what decides the output besides the packages: the recipe version, the wanted
     * modules and the /init template (rendered for a sample kernel).
     */
    static String recipe() {
        List<KernelModules.Module> sample = new ArrayList<>();
        for (String m : InitramfsBuilder.MODULES) {
            sample.add(new KernelModules.Module(m, m + ".ko", List.of()));
        }
        String text = RECIPE_VERSION + "\n" + InitramfsBuilder.MODULES + "\n" + InitScript.render("VERSION", sample)
                + InitScript.POWER_BUTTON_ACTION;
        return sha256(text.getBytes(StandardCharsets.UTF_8)).substring(0, 16);
    }

    /** Checks the bzImage boot-protocol header: "HdrS" at 0x202. */
    static void checkBzImage(Path kernel) throws IOException {
        byte[] head = new byte[0x206];
        try (InputStream in = Files.newInputStream(kernel)) {
            if (in.readNBytes(head, 0, head.length) != head.length
                    || head[0x202] != 'H' || head[0x203] != 'd' || head[0x204] != 'r' || head[0x205] != 'S') {
                throw new GuestBuildException(kernel + " is not a bzImage (no \"HdrS\" at 0x202)");
            }
        }
    }

    /** A new temporary file next to the outputs, readable by all like the outputs (createTempFile makes 0600). */
    private static Path tempFile(Path dir, String name) throws IOException {
        Path p = Files.createTempFile(dir, name + ".", ".tmp");
        try {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: keep the default
        }
        return p;
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    static String sha256(Path file) throws IOException {
        MessageDigest md = sha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    static String sha256(byte[] data) {
        return HexFormat.of().formatHex(sha256().digest(data));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code [--out DIR] [--cache DIR] [--force] [--refresh]}: builds the guest; status 1 and one line on error. */
    public static void main(String[] args) {
        Path out = defaultOutDir();
        Path cache = defaultCacheDir();
        boolean force = false, refresh = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out", "-o" -> out = Path.of(argValue(args, ++i));
                case "--cache" -> cache = Path.of(argValue(args, ++i));
                case "--force", "-f" -> force = true;
                case "--refresh" -> refresh = true;
                case "--help", "-h" -> {
                    System.out.println("usage: GuestBuilder [--out DIR] [--cache DIR] [--force] [--refresh]\n"
                            + "  builds vmlinuz and initramfs.cpio.gz of the demo guest from Debian packages\n"
                            + "  --force: rebuild even if up to date; --refresh: download the packages again too\n"
                            + "  defaults: --out " + defaultOutDir() + "  --cache " + defaultCacheDir());
                    return;
                }
                default -> {
                    System.err.println("guest: unknown option " + args[i] + " (try --help)");
                    System.exit(1);
                }
            }
        }
        try {
            Guest g = build(out, cache, force, refresh, System.err);
            System.out.println(g.kernel());
            System.out.println(g.initramfs());
        } catch (IOException e) {
            System.err.println("guest: " + e.getMessage());
            System.exit(1);
        }
    }

    private static String argValue(String[] args, int i) {
        if (i >= args.length) {
            System.err.println("guest: " + args[i - 1] + " needs a value");
            System.exit(1);
        }
        return args[i];
    }
}
