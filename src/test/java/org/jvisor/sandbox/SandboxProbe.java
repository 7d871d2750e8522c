package org.jvisor.sandbox;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Run in a child JVM by {@link SandboxProcessTest}: enters the sandbox given as the first argument,
 * shows the JVM still makes threads, reports the seccomp mode of every thread (those the JVM started
 * before the filter included), tries a resourcecontrol call (refused with EPERM, not fatal, when
 * denied), then makes the call named by the second argument: {@code spawn} starts a process,
 * {@code syslog} reads the kernel log's size (in QEMU's default deny set).
 */
public final class SandboxProbe {
    private SandboxProbe() {
    }

    public static void main(String[] args) throws Throwable {
        SandboxPolicy policy = SandboxPolicy.parse(args[0]);
        if (policy != null) {
            Sandbox.enter(policy);
        }
        System.out.println("sandboxed");
        Thread t = Thread.ofPlatform().start(() -> System.out.println("a new thread runs"));
        t.join();
        System.out.println("thread seccomp modes: " + seccompModes());
        System.out.println("setpriority: " + call("setpriority", 0, 0, 0));
        System.out.flush();
        String action = args.length > 1 ? args[1] : "spawn";
        switch (action) {
            case "spawn" -> {
                Process p = new ProcessBuilder("true").start();
                System.out.println("started a process: exit " + p.waitFor());
            }
            // syslog(2) through glibc's klogctl (syslog(3) is the user-space logger);
            // SYSLOG_ACTION_SIZE_BUFFER (10) reads nothing, its buffer argument is ignored
            case "syslog" -> System.out.println("syslog: " + call("klogctl", 10, 0, 0));
            default -> throw new IllegalArgumentException(action);
        }
    }

    /** The distinct "Seccomp:" values of /proc/self/task/[tid]/status (2 = filter mode). */
    private static List<String> seccompModes() throws IOException {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            return tasks.map(task -> {
                try {
                    return Files.readAllLines(task.resolve("status")).stream()
                        .filter(l -> l.startsWith("Seccomp:")).map(l -> l.substring(8).strip()).findFirst().orElse("?");
                } catch (IOException e) {
                    return "gone";  // the thread ended while listed
                }
            }).filter(s -> !s.equals("gone")).distinct().sorted().toList();
        }
    }

    /** Calls libc's {@code name(int, int, int)}: "ok", or "-1 errno N". */
    private static String call(String name, int a, int b, int c) throws Throwable {
        Linker linker = Linker.nativeLinker();
        StructLayout capture = Linker.Option.captureStateLayout();
        MethodHandle h = linker.downcallHandle(linker.defaultLookup().find(name).orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.captureCallState("errno"));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(capture);
            int r = (int) h.invokeExact(state, a, b, c);
            int errno = (int) capture.varHandle(MemoryLayout.PathElement.groupElement("errno")).get(state, 0L);
            return r < 0 ? r + " errno " + errno : "ok";
        }
    }
}
