package org.jvisor.sandbox;

/**
 * Run in a child JVM by {@link SandboxProcessTest}: enters the sandbox given as the argument, shows
 * the JVM still makes threads, then tries to start a process (which the filter must stop).
 */
public final class SandboxProbe {
    private SandboxProbe() {
    }

    public static void main(String[] args) throws Exception {
        Sandbox.enter(SandboxPolicy.parse(args[0]));
        System.out.println("sandboxed");
        Thread t = Thread.ofPlatform().start(() -> System.out.println("a new thread runs"));
        t.join();
        System.out.flush();
        Process p = new ProcessBuilder("true").start();
        System.out.println("started a process: exit " + p.waitFor());
    }
}
