package org.jvisor.testing;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The command that starts another JVM on jvisor's classes (and the tests'), as the launcher does:
 * on the class path, native access for the unnamed module. The tests themselves may run inside
 * the org.jvisor module (surefire patches them in), where jvisor's classes are on the module path
 * and the test classes nowhere on any path; both are collected here.
 */
public final class ChildJvm {
    /** jvisor's command-line entry point. */
    static final String JVISOR_MAIN = "org.jvisor.cli.Main";

    private ChildJvm() {
    }

    /** The translator's settings (JitOptions, UnitVerifier): a test JVM's own reach its children. */
    private static final List<String> FORWARDED = List.of("jvisor.tcg.jit", "jvisor.tcg.jitThreshold",
        "jvisor.tcg.jitMaxInsns", "jvisor.tcg.jitBurst", "jvisor.tcg.jitVerify");

    /**
     * {@code java --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -XX:+UseSerialGC [translator settings]
     * [-Djvisor.test.jvmargs...] [jvmOptions] -cp ... mainClass}: the translator settings this
     * JVM runs with and the options a test run passes with -Djvisor.test.jvmargs reach every JVM
     * the tests start (later options win, so a test's own jvmOptions have the last word). jvisor's
     * own main class runs from the packaged jar with its AOT cache when {@link ChildAot} has one.
     */
    public static List<String> command(List<String> jvmOptions, String mainClass) {
        List<String> cmd = new ArrayList<>();
        cmd.add(java());
        // as the launcher: native access, tcg's raw guest-RAM accesses (HostMemory), the serial collector
        cmd.addAll(ChildAot.BASE);
        // jvisor itself from the packaged jar with its AOT cache, as users run it, where there is one
        Optional<ChildAot.Use> aot = mainClass.equals(JVISOR_MAIN) ? ChildAot.use() : Optional.empty();
        aot.ifPresent(a -> cmd.addAll(a.options()));
        for (String key : FORWARDED) {
            String value = System.getProperty(key);
            if (value != null) {
                cmd.add("-D" + key + "=" + value);
            }
        }
        String extra = System.getProperty("jvisor.test.jvmargs", "").strip();
        if (!extra.isEmpty()) {
            cmd.addAll(List.of(extra.split("\\s+")));
        }
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(aot.map(a -> a.jar().toString()).orElseGet(ChildJvm::classPath));
        cmd.add(mainClass);
        return cmd;
    }

    /** jvisor's classes, the test classes and the test libraries, as one class path. */
    public static String classPath() {
        Set<String> entries = new LinkedHashSet<>();
        for (String property : List.of("jdk.module.path", "java.class.path")) {
            String value = System.getProperty(property);
            if (value != null && !value.isEmpty()) {
                entries.addAll(List.of(value.split(File.pathSeparator)));
            }
        }
        try {
            entries.add(Path.of(ChildJvm.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("where are the test classes?", e);
        }
        return String.join(File.pathSeparator, entries);
    }

    /**
     * The jar the package phase made (failsafe names it in {@code jvisor.jar}), as users put it on
     * their module path; outside failsafe (an IDE), the compiled classes.
     */
    public static Path moduleJar() {
        String jar = System.getProperty("jvisor.jar");
        return jar == null ? mainClasses() : Path.of(jar);
    }

    /** The java executable of this JVM, for the JVMs the tests start. */
    static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    /** jvisor's compiled classes (target/classes), the directory that holds module-info.class. */
    public static Path mainClasses() {
        return Path.of(System.getProperty("jvisor.root", ".")).resolve("target/classes");
    }
}
