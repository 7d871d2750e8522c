package org.jvisor.backend.net;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.jvisor.sys.Credentials;
import org.jvisor.sys.Errno;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Sockets;
import org.jvisor.sys.SysException;

/**
 * A passt process (https://passt.top, Debian's package {@code passt}) serving one guest: the
 * user-mode network stack behind -netdev user, reached over a unix socket with -netdev stream's
 * framing. It runs in the foreground ({@code -f}) for one client ({@code -1}: it exits when
 * jvisor's connection closes, also when jvisor is killed), with its socket, pid file and log in a
 * private directory. Run as root, passt drops to user nobody, so the directory then belongs to
 * nobody. {@link #close()} ends the process and removes the directory.
 */
public final class Passt implements AutoCloseable {
    /** The Debian package that has passt, for the message when it is missing. */
    public static final String PACKAGE = "passt";
    /** How long passt may take to set up its socket. */
    static final long READY_MILLIS = 10_000;

    /** A host port forwarded to the guest: passt's -t (TCP) or -u (UDP) with [ADDRESS/]PORT:GUESTPORT. */
    public record Forward(boolean udp, String hostAddress, int hostPort, int guestPort) {
        List<String> options() {
            return List.of(udp ? "-u" : "-t", (hostAddress == null ? "" : hostAddress + "/") + hostPort + ":" + guestPort);
        }
    }

    private final String description;
    private final Process process;
    private final Path dir;
    private final Path socket;
    private final long readyMillis;

    private Passt(String description, Process process, Path dir, long readyMillis) {
        this.description = description;
        this.readyMillis = readyMillis;
        this.process = process;
        this.dir = dir;
        this.socket = dir.resolve("passt.socket");
    }

    /**
     * Starts passt for {@code description} ("-netdev user,id=n") with {@code forwards} and waits
     * until it listens. Fails with a message saying what to install when passt is missing, and
     * with passt's own output when it exits or is not ready in time.
     */
    public static Passt start(String description, List<Forward> forwards) throws IOException {
        return start(description, forwards, List.of(), find(System.getenv("PATH")), READY_MILLIS);
    }

    /** {@link #start(String, List)} with further passt options ({@code -4}: IPv4 only, {@code -6}: IPv6 only). */
    public static Passt start(String description, List<Forward> forwards, List<String> options) throws IOException {
        return start(description, forwards, options, find(System.getenv("PATH")), READY_MILLIS);
    }

    /** {@link #start(String, List)} with the passt binary given (null: not found) and how long it may take. */
    static Passt start(String description, List<Forward> forwards, List<String> options, Path binary, long readyMillis)
            throws IOException {
        if (binary == null) {
            throw new IOException(description + ": user networking runs passt, which is not installed"
                + " (not on PATH nor in /usr/bin): install Debian's package '" + PACKAGE + "' (apt-get install " + PACKAGE + ")");
        }
        Path dir = Files.createTempDirectory("jvisor-passt-", PosixFilePermissions.asFileAttribute(
            PosixFilePermissions.fromString("rwx------")));
        boolean ok = false;
        try {
            givePasstTheDirectory(description, dir);
            List<String> cmd = new ArrayList<>(List.of(binary.toString(), "-f", "-q", "-1",
                "-s", dir.resolve("passt.socket").toString(), "-P", dir.resolve("passt.pid").toString()));
            cmd.addAll(options);
            for (Forward f : forwards) {
                cmd.addAll(f.options());
            }
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("passt.log").toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
            Passt passt = new Passt(description, p, dir, readyMillis);
            ok = true;
            return passt;
        } finally {
            if (!ok) {
                removeTree(dir);
            }
        }
    }

    /** passt on {@code path} (the PATH variable's directories), else /usr/bin/passt; null if neither has it. */
    static Path find(String path) {
        List<String> dirs = new ArrayList<>();
        if (path != null) {
            dirs.addAll(List.of(path.split(File.pathSeparator)));
        }
        dirs.add("/usr/bin");
        for (String d : dirs) {
            if (d.isEmpty()) {
                continue;
            }
            Path p = Path.of(d, "passt");
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    /** Run by root, passt becomes nobody (its "Don't run as root"), who must be able to make its socket here. */
    private static void givePasstTheDirectory(String description, Path dir) throws IOException {
        if (Credentials.effectiveUid() != 0) {
            return;
        }
        try {
            Credentials.User nobody = Credentials.lookup("nobody");
            int uid = nobody == null ? 65534 : nobody.uid();
            int gid = nobody == null ? 65534 : nobody.gid();
            Files.setAttribute(dir, "unix:uid", uid);
            Files.setAttribute(dir, "unix:gid", gid);
        } catch (SysException | UnsupportedOperationException e) {
            throw new IOException(description + ": cannot give passt's directory " + dir + " to user nobody: "
                + e.getMessage(), e);
        }
    }

    /**
     * Waits until passt has written its pid file (after it bound its socket), then connects: the
     * socket to hand to a {@link StreamNetBackend}. Fails, with passt's output, if passt exits first
     * or is not ready within {@link #READY_MILLIS} (10 s).
     */
    public Fd connect() throws IOException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(readyMillis);
        Path pid = dir.resolve("passt.pid");
        SysException last = null;
        while (System.nanoTime() - deadline < 0) {
            if (!process.isAlive()) {
                throw new IOException(description + ": passt exited with status " + process.exitValue()
                    + " before it was ready: " + output());
            }
            if (Files.exists(socket) && Files.exists(pid) && Files.size(pid) > 0) {
                try {
                    return Sockets.connect(socket.toString());
                } catch (SysException e) {
                    if (!e.is(Errno.ECONNREFUSED) && !e.is(Errno.ENOENT)) {
                        throw new IOException(description + ": connecting to passt: " + e.getMessage(), e);
                    }
                    last = e;       // bound, not listening yet
                }
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(description + ": interrupted while waiting for passt", e);
            }
        }
        throw new IOException(description + ": passt was not ready after " + readyMillis + " ms"
            + (last != null ? " (" + last.getMessage() + ")" : "") + ": " + output());
    }

    /** What passt printed (its log), on one line, for messages. */
    private String output() {
        try {
            String s = Files.readString(dir.resolve("passt.log"), StandardCharsets.UTF_8).strip();
            s = s.lines().filter(l -> !l.startsWith("Failed to send") && !l.isBlank()).reduce((a, b) -> a + " | " + b).orElse("");
            return s.isEmpty() ? "(no output)" : s;
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }

    /** The passt process (for tests that check it ends). */
    public ProcessHandle process() {
        return process.toHandle();
    }

    /** Ends passt (it normally exits by itself once jvisor's connection closes) and removes its directory. */
    @Override
    public void close() {
        try {
            if (!process.waitFor(1, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(2, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(2, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        removeTree(dir);
    }

    private static void removeTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a temporary directory left behind is harmless
        }
    }
}
