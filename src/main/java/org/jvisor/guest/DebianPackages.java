package org.jvisor.guest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Debian packages fetched with the host's own tools into a cache directory: {@code apt-get
 * download} (no installation, works as any user), {@code dpkg-deb -f} to read control fields and
 * {@code dpkg-deb -x} to extract. A package already in the cache is used as is (so a build works
 * offline once the cache is filled); {@link #refresh} fetches again.
 */
public final class DebianPackages {

    /** A downloaded package: its name, version and .deb file. */
    public record Deb(String name, String version, Path file) {}

    /** A kernel image package: its version string (uname -r), the package and its extracted tree. */
    public record Kernel(String version, Deb deb, Path root) {
        /** The bzImage, {@code boot/vmlinuz-VERSION}. */
        public Path vmlinuz() {
            return root.resolve("boot/vmlinuz-" + version);
        }

        /** The module tree, {@code lib/modules/VERSION}. */
        public Path moduleDir() {
            return root.resolve("lib/modules/" + version);
        }
    }

    private static final Pattern KERNEL_DEP = Pattern.compile("(linux-image-(\\d[^\\s,()|]*))");
    private static final long APT_TIMEOUT_S = 600, DPKG_TIMEOUT_S = 300;

    private final Path cacheDir;
    private final PrintStream log;
    private final boolean refresh;
    private boolean updated;

    /**
     * Packages cached in {@code cacheDir}; progress lines go to {@code log}. With {@code refresh},
     * packages are downloaded again even when cached (to pick up a newer version).
     */
    public DebianPackages(Path cacheDir, PrintStream log, boolean refresh) {
        this.cacheDir = cacheDir.toAbsolutePath();
        this.log = log;
        this.refresh = refresh;
    }

    public Path cacheDir() {
        return cacheDir;
    }

    /** The .deb of {@code pkg}, from the cache or downloaded with apt-get. */
    public Deb fetch(String pkg) throws IOException {
        if (!pkg.matches("[a-z0-9][a-z0-9+.-]+")) {
            throw new IllegalArgumentException("not a Debian package name: " + pkg);
        }
        Files.createDirectories(cacheDir);
        if (!refresh) {
            Deb cached = cached(pkg);
            if (cached != null) {
                return cached;
            }
        }
        log.println("guest: downloading Debian package " + pkg);
        Result r = aptDownload(pkg);
        if (r.status != 0 && !updated && looksLikeMissingLists(r.output)) {
            // A fresh container has no package lists: "Unable to locate package".
            log.println("guest: package lists missing or stale; running apt-get update");
            Result u = run(List.of("apt-get", "update", "-qq"), cacheDir, APT_TIMEOUT_S);
            updated = true;
            if (u.status != 0) {
                throw new GuestBuildException("cannot download " + pkg + ": 'apt-get update' failed"
                        + hint(u.output) + ": " + lastLines(u.output));
            }
            r = aptDownload(pkg);
        }
        if (r.status != 0) {
            Deb cached = cached(pkg);
            if (cached != null) {
                log.println("guest: download of " + pkg + " failed; using the cached " + cached.file().getFileName());
                return cached;
            }
            throw new GuestBuildException("cannot download Debian package " + pkg + hint(r.output)
                    + ": " + lastLines(r.output));
        }
        Deb deb = cached(pkg);
        if (deb == null) {
            throw new GuestBuildException("apt-get download " + pkg + " succeeded but left no "
                    + pkg + "_*.deb in " + cacheDir);
        }
        return deb;
    }

    /**
     * The kernel behind a metapackage such as {@code linux-image-cloud-amd64}: reads its Depends,
     * fetches the real {@code linux-image-VERSION} package and extracts it. A real image package
     * name (linux-image-6.1.0-NN-cloud-amd64) is accepted too.
     */
    public Kernel kernel(String pkg) throws IOException {
        Deb deb = fetch(pkg);
        String version = kernelVersionOf(pkg);
        if (version == null) {
            String depends = field(deb, "Depends");
            Matcher m = KERNEL_DEP.matcher(depends);
            if (!m.find()) {
                throw new GuestBuildException(pkg + " depends on no linux-image-VERSION package (Depends: " + depends + ")");
            }
            version = m.group(2);
            deb = fetch(m.group(1));
        }
        Path root = extract(deb);
        Kernel k = new Kernel(version, deb, root);
        if (!Files.isRegularFile(k.vmlinuz())) {
            throw new GuestBuildException(deb.file().getFileName() + " has no boot/vmlinuz-" + version);
        }
        if (!Files.isDirectory(k.moduleDir())) {
            throw new GuestBuildException(deb.file().getFileName() + " has no lib/modules/" + version);
        }
        return k;
    }

    /** The kernel version of an image package name (linux-image-6.1.0-56-cloud-amd64), or null for a metapackage. */
    static String kernelVersionOf(String pkg) {
        Matcher m = KERNEL_DEP.matcher(pkg);
        return m.matches() && !pkg.endsWith("-dbg") && !pkg.endsWith("-unsigned") ? m.group(2) : null;
    }

    /** A control field of a .deb ({@code dpkg-deb -f}). */
    public String field(Deb deb, String name) throws IOException {
        Result r = run(List.of("dpkg-deb", "-f", deb.file().toString(), name), cacheDir, DPKG_TIMEOUT_S);
        if (r.status != 0) {
            throw new GuestBuildException("dpkg-deb -f " + deb.file().getFileName() + " " + name + " failed: " + lastLines(r.output));
        }
        return r.output.strip();
    }

    /**
     * The package extracted ({@code dpkg-deb -x}) under {@code cacheDir/root/NAME_VERSION}; done
     * once (a marker file records a complete extraction).
     */
    public Path extract(Deb deb) throws IOException {
        Path dest = cacheDir.resolve("root").resolve(deb.file().getFileName().toString().replaceFirst("\\.deb$", ""));
        Path done = dest.resolve(".jvisor-extracted");
        if (Files.isRegularFile(done) && !refresh) {
            return dest;
        }
        deleteTree(dest);
        Files.createDirectories(dest);
        log.println("guest: extracting " + deb.file().getFileName());
        Result r = run(List.of("dpkg-deb", "-x", deb.file().toString(), dest.toString()), cacheDir, DPKG_TIMEOUT_S);
        if (r.status != 0) {
            throw new GuestBuildException("dpkg-deb -x " + deb.file().getFileName() + " failed: " + lastLines(r.output));
        }
        Files.writeString(done, deb.name() + " " + deb.version() + "\n");
        return dest;
    }

    // ---- internals --------------------------------------------------------------------------

    /** The cached .deb of a package (the highest version if several), or null. */
    private Deb cached(String pkg) throws IOException {
        List<Deb> found = new ArrayList<>();
        try (Stream<Path> files = Files.list(cacheDir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String f = p.getFileName().toString();
                // apt names files NAME_VERSION_ARCH.deb with the version URL-encoded (":" -> "%3a")
                if (f.startsWith(pkg + "_") && f.endsWith(".deb") && Files.isRegularFile(p)) {
                    String[] parts = f.substring(0, f.length() - 4).split("_");
                    if (parts.length == 3 && parts[0].equals(pkg)) {
                        found.add(new Deb(pkg, parts[1].replace("%3a", ":"), p));
                    }
                }
            }
        }
        if (found.size() > 1) {
            found.sort(Comparator.comparing(Deb::version, DebianPackages::compareVersions));
        }
        return found.isEmpty() ? null : found.getLast();
    }

    private Result aptDownload(String pkg) throws IOException {
        // Sandbox user root: the _apt user cannot write to an arbitrary cache dir (harmless warning otherwise).
        List<String> cmd = new ArrayList<>(List.of("apt-get", "download", "-q"));
        try {
            if ("root".equals(System.getProperty("user.name"))) {
                cmd.addAll(List.of("-o", "APT::Sandbox::User=root"));
            }
        } catch (SecurityException ignored) {
            // keep the default
        }
        cmd.add(pkg);
        return run(cmd, cacheDir, APT_TIMEOUT_S);
    }

    private static boolean looksLikeMissingLists(String out) {
        return out.contains("Unable to locate package") || out.contains("Can't select")
                || out.contains("has no installation candidate") || out.contains("404");
    }

    private static String hint(String out) {
        if (out.contains("Temporary failure resolving") || out.contains("Could not resolve")
                || out.contains("Network is unreachable") || out.contains("Could not connect")
                || out.contains("Connection failed") || out.contains("timed out")) {
            return " (no network access to the Debian mirror?)";
        }
        if (out.contains("Unable to locate package") || out.contains("Can't select")) {
            return " (no such package in this machine's apt sources: is this Debian 12 / bookworm?)";
        }
        if (out.contains("Permission denied") || out.contains("are you root")) {
            return " (permission denied: run as root or pre-fill the cache)";
        }
        return "";
    }

    private static String lastLines(String out) {
        String[] lines = out.strip().split("\n");
        StringBuilder sb = new StringBuilder();
        for (int i = Math.max(0, lines.length - 3); i < lines.length; i++) {
            if (!sb.isEmpty()) {
                sb.append(" | ");
            }
            sb.append(lines[i].strip());
        }
        return sb.isEmpty() ? "(no output)" : sb.toString();
    }

    record Result(int status, String output) {}

    /** Runs a command in {@code dir}, stdout and stderr merged; a missing tool is a clear error. */
    static Result run(List<String> cmd, Path dir, long timeoutSeconds) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().put("LC_ALL", "C");
        pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new GuestBuildException("cannot run " + cmd.getFirst() + " (is this a Debian host with apt and dpkg?): "
                    + e.getMessage());
        }
        p.getOutputStream().close();
        // Output is drained by another thread so that the timeout holds even for a silent hang.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread drain = Thread.ofVirtual().start(() -> {
            try (var in = p.getInputStream()) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // the process was killed
            }
        });
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new GuestBuildException(String.join(" ", cmd) + " timed out after " + timeoutSeconds + " s");
            }
            drain.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + cmd.getFirst(), e);
        }
        return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8));
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /**
     * Compares Debian version strings (epoch:upstream-revision) as dpkg does: digits numerically,
     * other characters with '~' before everything, letters before non-letters.
     */
    static int compareVersions(String a, String b) {
        int ea = epoch(a), eb = epoch(b);
        if (ea != eb) {
            return Integer.compare(ea, eb);
        }
        a = a.substring(a.indexOf(':') + 1);
        b = b.substring(b.indexOf(':') + 1);
        int da = a.lastIndexOf('-'), db = b.lastIndexOf('-');
        int c = compareFragment(da < 0 ? a : a.substring(0, da), db < 0 ? b : b.substring(0, db));
        if (c != 0) {
            return c;
        }
        return compareFragment(da < 0 ? "" : a.substring(da + 1), db < 0 ? "" : b.substring(db + 1));
    }

    private static int epoch(String v) {
        int colon = v.indexOf(':');
        return colon > 0 && v.substring(0, colon).chars().allMatch(Character::isDigit)
                ? Integer.parseInt(v.substring(0, colon)) : 0;
    }

    private static int compareFragment(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() || j < b.length()) {
            // non-digit part
            while ((i < a.length() && !Character.isDigit(a.charAt(i))) || (j < b.length() && !Character.isDigit(b.charAt(j)))) {
                int ca = i < a.length() && !Character.isDigit(a.charAt(i)) ? order(a.charAt(i)) : 0;
                int cb = j < b.length() && !Character.isDigit(b.charAt(j)) ? order(b.charAt(j)) : 0;
                if (ca != cb) {
                    return Integer.compare(ca, cb);
                }
                if (i < a.length() && !Character.isDigit(a.charAt(i))) {
                    i++;
                }
                if (j < b.length() && !Character.isDigit(b.charAt(j))) {
                    j++;
                }
            }
            // digit part
            long na = 0, nb = 0;
            while (i < a.length() && Character.isDigit(a.charAt(i))) {
                na = na * 10 + (a.charAt(i++) - '0');
            }
            while (j < b.length() && Character.isDigit(b.charAt(j))) {
                nb = nb * 10 + (b.charAt(j++) - '0');
            }
            if (na != nb) {
                return Long.compare(na, nb);
            }
        }
        return 0;
    }

    private static int order(char c) {
        if (c == '~') {
            return -1;
        }
        if (Character.isLetter(c)) {
            return c;
        }
        return c + 256;
    }
}
