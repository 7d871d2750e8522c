package org.jvisor.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.jvisor.guest.GuestBuilder;

/**
 * The AOT cache (JDK 25, JEPs 483, 514, 515) for the jvisor JVMs the guest tests start, as the
 * launcher gives users one: trained once per packaged jar on one boot of the demo guest, then
 * every child JVM that runs {@code org.jvisor.cli.Main} from that jar starts with jvisor's classes
 * loaded and linked and the interpreter's method profiles (a demo boot ~15% faster,
 * BENCHMARKS.md "Linux boot", the "no AOT cache" rows). The tests' child JVMs boot Linux a few
 * hundred times per CI run, most of its time.
 * <p>
 * Only for the jar the package phase made (failsafe names it in {@code jvisor.jar}): a cache
 * names its class path, and a directory (target/classes) cannot be in one. The child's class
 * path is then that jar alone, as a user's is. {@code -Djvisor.test.aot=off} runs the children
 * without it. A JVM that cannot use the cache (another JDK, options that differ from the
 * training's) runs without it; {@code -Xlog:aot=off,cds=off} keeps it from saying so on the
 * child's output, which the tests read.
 */
public final class ChildAot {
    /** The options every jvisor JVM of the tests runs with, training included (the cache checks them). */
    static final List<String> BASE = List.of("--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow", "-XX:+UseSerialGC");
    private static final String MARKER = "CHILD-AOT-TRAINING-DONE";

    private ChildAot() {
    }

    /** Made on first use, once per test JVM. */
    private static final class Holder {
        static final Optional<Use> USE = useFor(System.getProperty("jvisor.jar"));
    }

    /** The packaged jar and the JVM options that load its cache, when there is one. */
    public record Use(Path jar, List<String> options) {
    }

    /** How a child JVM running jvisor's main class uses the cache, or empty when it runs without one. */
    public static Optional<Use> use() {
        return Holder.USE;
    }

    private static Optional<Use> useFor(String jarProperty) {
        if (jarProperty == null || "off".equals(System.getProperty("jvisor.test.aot"))) {
            return Optional.empty();
        }
        Path jar = Path.of(jarProperty).toAbsolutePath();
        if (!Files.isRegularFile(jar)) {
            return Optional.empty();
        }
        Path dir = jar.resolveSibling("child-aot");
        Path cache = dir.resolve(jar.getFileName() + ".aot");
        try {
            boolean fresh = Files.isRegularFile(cache)
                && Files.getLastModifiedTime(cache).compareTo(Files.getLastModifiedTime(jar)) > 0;
            if (!fresh) {
                Files.createDirectories(dir);
                if (!train(jar, dir, cache)) {
                    return Optional.empty();
                }
            }
            return Optional.of(new Use(jar, List.of("-XX:AOTCache=" + cache, "-Xlog:aot=off", "-Xlog:cds=off")));
        } catch (IOException e) {
            throw new UncheckedIOException("the child JVMs' AOT cache in " + dir, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /**
     * One boot of the demo guest with {@code -XX:AOTCacheOutput}, as the launcher's
     * {@code train_aot}; a failed training leaves the children without a cache and says why on
     * the test JVM's stderr, with the training's log kept.
     */
    private static boolean train(Path jar, Path dir, Path cache) throws IOException, InterruptedException {
        GuestBuilder.Guest guest = DemoGuest.build();
        Path partial = dir.resolve(jar.getFileName() + ".aot.partial");
        Path log = dir.resolve("training.log");
        Files.deleteIfExists(partial);
        List<String> cmd = new ArrayList<>();
        cmd.add(ChildJvm.java());
        cmd.addAll(BASE);
        cmd.addAll(List.of("-Xmx256m", "-XX:AOTCacheOutput=" + partial, "-cp", jar.toString(), ChildJvm.JVISOR_MAIN,
            "-accel", "tcg", "-m", "512M", "-nographic", "-no-reboot", "-kernel", guest.kernel().toString(),
            "-initrd", guest.initramfs().toString(), "-append", "console=ttyS0 quiet jvisor.test=" + MARKER));
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly().waitFor();
        }
        boolean ok = p.exitValue() == 0 && Files.readString(log).contains(MARKER) && Files.isRegularFile(partial);
        if (!ok) {
            System.err.println("child JVMs run without an AOT cache: its training failed (exit " + p.exitValue()
                + "), see " + log);
            Files.deleteIfExists(partial);
            return false;
        }
        Files.move(partial, cache, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.err.printf("child JVMs' AOT cache %s trained in %.1f s%n", cache, (System.nanoTime() - t0) / 1e9);
        return true;
    }
}
