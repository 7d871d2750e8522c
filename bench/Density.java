import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

import org.jvisor.api.ResourceUsage;
import org.jvisor.api.TranslationCache;
import org.jvisor.api.VirtualMachine;
import org.jvisor.config.MachineConfig;

/**
 * Density (issue 13): boots N demo guests (128 MiB, -M microvm) one after the other in this JVM,
 * all sharing one TranslationCache, lets them idle, then reports the host CPU the process uses
 * while all idle, its memory beside guest RAM, per-guest accounting, and checks that every guest
 * still answers on its console.
 * Usage (bench/density.sh runs it): java -cp target/jvisor.jar bench/Density.java GUEST_DIR N|max IDLE_SECONDS
 * (max: guests are added until the host has less than {@link #RESERVE_MIB} available, or until the
 * idle guests take {@link #CPU_LIMIT} of its cores)
 */
public class Density {
    static final String READY = "jvisor-guest: ready";

    /** One guest's console: output searched for a text, input fed line by line. */
    static final class Console extends OutputStream {
        private final StringBuilder text = new StringBuilder();
        final LinkedBlockingQueue<Integer> in = new LinkedBlockingQueue<>();

        @Override
        public synchronized void write(int b) {
            text.append((char) (b & 0xFF));
            notifyAll();
        }

        /** Waits until {@code s} appears; false after {@code millis}. */
        synchronized boolean await(String s, long millis) throws InterruptedException {
            long end = System.currentTimeMillis() + millis;
            while (text.indexOf(s) < 0) {
                long left = end - System.currentTimeMillis();
                if (left <= 0) {
                    return false;
                }
                wait(left);
            }
            return true;
        }

        void type(String line) {
            for (byte b : (line + "\n").getBytes(StandardCharsets.US_ASCII)) {
                in.add(b & 0xFF);
            }
        }

        InputStream input() {
            return new InputStream() {
                @Override
                public int read() {
                    try {
                        return in.take();
                    } catch (InterruptedException e) {
                        return -1;
                    }
                }

                @Override
                public int read(byte[] b, int off, int len) {
                    int c = read();
                    if (c < 0) {
                        return -1;
                    }
                    b[off] = (byte) c;
                    int n = 1;
                    Integer next;
                    while (n < len && (next = in.poll()) != null) {
                        b[off + n++] = next.byteValue();
                    }
                    return n;
                }
            };
        }
    }

    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /**
     * {own memory, guest RAM resident} of this process in KiB: RssAnon + RssFile + RssShmem of
     * /proc/self/status less the guests' resident RAM (mincore, each machine's account), wherever
     * the mapping's pages are counted (RssShmem for jvisor's shared anonymous RAM, RssAnon for a
     * private mapping). Pages the host's KSM merged count once per guest in both, as they are
     * mapped once per guest.
     */
    static long[] rssKib(List<VirtualMachine> vms) throws Exception {
        long rss = 0;
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            String[] f = l.split("\\s+");
            switch (f[0]) {
                case "RssAnon:", "RssFile:", "RssShmem:" -> rss += Long.parseLong(f[1]);
                default -> { }
            }
        }
        long guest = 0;
        for (VirtualMachine vm : vms) {
            guest += vm.usage().guestRamResidentBytes() >> 10;
        }
        return new long[] {rss - guest, guest};
    }

    /** A value of /sys/kernel/mm/ksm (the host's same-page merging), or -1 without KSM. */
    static long ksm(String name) {
        try {
            return Long.parseLong(Files.readString(Path.of("/sys/kernel/mm/ksm", name)).strip());
        } catch (Exception e) {
            return -1;
        }
    }

    /** CPU time of the host's ksmd thread in clock ticks (utime + stime), or -1 where it is not visible. */
    static long ksmdTicks() {
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                if (p.getFileName().toString().matches("\\d+") && Files.readString(p.resolve("comm")).strip().equals("ksmd")) {
                    String stat = Files.readString(p.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    return Long.parseLong(f[11]) + Long.parseLong(f[12]);   // fields 14 and 15 of proc(5)
                }
            }
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }

    /** MemAvailable of /proc/meminfo in MiB: what the host can still give without swapping. */
    static long memAvailableMib() throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (l.startsWith("MemAvailable:")) {
                return Long.parseLong(l.split("\\s+")[1]) >> 10;
            }
        }
        throw new IllegalStateException("no MemAvailable in /proc/meminfo");
    }

    /** Guests are added until the host has less than this left (N = max): room for the JVM's growth and the host. */
    static final long RESERVE_MIB = 2048;
    /**
     * Or until the idle guests take this share of the host's cores (N = max, checked every ten
     * guests over 5 s): beyond it a new guest boots on what is left and the host has no room to work.
     */
    static final double CPU_LIMIT = 0.75;

    public static void main(String[] args) throws Exception {
        Path guest = Path.of(args[0]);
        boolean max = args[1].equals("max");
        int n = max ? Integer.MAX_VALUE : Integer.parseInt(args[1]);
        int idleSeconds = Integer.parseInt(args[2]);
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
        TranslationCache cache = new TranslationCache();
        List<VirtualMachine> vms = new ArrayList<>();
        List<Console> consoles = new ArrayList<>();
        long afterFirst = 0;
        long availBefore = memAvailableMib();
        boolean ksmOn = ksm("run") == 1;
        System.out.printf("host MemAvailable %d MiB before the first guest; KSM %s%n", availBefore,
            ksmOn ? "running (pages_to_scan " + ksm("pages_to_scan") + ", sleep_millisecs " + ksm("sleep_millisecs") + ")"
                : "off (/sys/kernel/mm/ksm/run is not 1)");
        try {
            for (int i = 0; i < n; i++) {
                long avail = memAvailableMib();
                if (max && avail < RESERVE_MIB) {
                    System.out.printf("stopped adding guests: %d MiB left on the host (reserve %d MiB)%n", avail, RESERVE_MIB);
                    n = i;
                    break;
                }
                if (max && i > 0 && i % 10 == 0) {
                    long c0 = processCpuNanos();
                    long w0 = System.nanoTime();
                    Thread.sleep(5_000);
                    double cores = (processCpuNanos() - c0) / (double) (System.nanoTime() - w0);
                    int hostCores = Runtime.getRuntime().availableProcessors();
                    System.out.printf("%d guests idle: process CPU %.1f%% of a core%n", i, 100 * cores);
                    if (cores > CPU_LIMIT * hostCores) {
                        System.out.printf("stopped adding guests: the idle guests take %.0f%% of the host's %d cores (limit %.0f%%)%n",
                            100 * cores / hostCores, hostCores, 100 * CPU_LIMIT);
                        n = i;
                        break;
                    }
                }
                Console c = new Console();
                MachineConfig config = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(128L << 20)
                    .machineType(MachineConfig.MachineType.MICROVM)
                    .kernel(guest.resolve("vmlinuz")).initrd(guest.resolve("initramfs.cpio.gz")).append("console=ttyS0 quiet")
                    .serial(new MachineConfig.SerialConfig.Streams(c, c.input())).build();
                long t0 = System.nanoTime();
                VirtualMachine vm = VirtualMachine.create(config, quiet, cache);
                vms.add(vm);
                consoles.add(c);
                vm.start();
                if (!c.await(READY, 600_000)) {
                    throw new IllegalStateException("guest " + i + " did not boot");
                }
                long[] rss = rssKib(vms);
                if (i == 0) {
                    afterFirst = rss[0];
                }
                System.out.printf("guest %3d ready after %5.2f s; own memory %5d MiB, guest RAM resident %5d MiB, "
                    + "host MemAvailable %6d MiB%n", i + 1, (System.nanoTime() - t0) / 1e9, rss[0] >> 10, rss[1] >> 10,
                    memAvailableMib());
            }
            Thread.sleep(idleSeconds * 1000L);
            System.gc(); // live data only: soft caches of a quiet VM may go, as they would under memory pressure
            long heapUsed = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            long c0 = processCpuNanos();
            long k0 = ksmdTicks();
            long w0 = System.nanoTime();
            Thread.sleep(10_000);
            long cpu = processCpuNanos() - c0;
            long ksmdTicks = ksmdTicks() - k0;
            long wall = System.nanoTime() - w0;
            long[] rss = rssKib(vms);
            long availNow = memAvailableMib();
            System.out.printf("host memory used by the %d guests and the VMM: %d MiB (%.1f MiB per guest, from MemAvailable)%n",
                n, availBefore - availNow, (availBefore - availNow) / (double) n);
            if (ksmOn) {
                System.out.printf("KSM: pages_shared %d, pages_sharing %d (%d MiB saved); ksmd CPU %.2f%% of a core%n",
                    ksm("pages_shared"), ksm("pages_sharing"), ksm("pages_sharing") * 4 / 1024,
                    ksmdTicks < 0 ? Double.NaN : 100.0 * ksmdTicks * 10_000_000L / wall);
            }
            System.out.printf("%d idle guests: process CPU %.2f%% of a core (%.3f%% per guest); own memory %d MiB "
                + "(%.1f MiB per guest after the first), heap in use %d MiB, guest RAM resident %d MiB%n",
                n, 100.0 * cpu / wall, 100.0 * cpu / wall / n, rss[0] >> 10,
                n > 1 ? (rss[0] - afterFirst) / 1024.0 / (n - 1) : 0.0, heapUsed >> 20, rss[1] >> 10);
            ResourceUsage u = vms.getFirst().usage();
            System.out.printf("guest 1's account: vCPU %.2f s, other threads %.2f s, RAM resident %d of %d MiB%n",
                u.vcpuTime().toNanos() / 1e9, u.otherThreadsTime().toNanos() / 1e9,
                u.guestRamResidentBytes() >> 20, u.guestRamBytes() >> 20);
            int answered = 0;
            for (int i = 0; i < n; i++) {
                consoles.get(i).type("echo alive-$((" + i + " + 1000))");
            }
            for (int i = 0; i < n; i++) {
                if (consoles.get(i).await("alive-" + (i + 1000), 120_000)) {
                    answered++;
                }
            }
            System.out.printf("%d of %d guests answered on their consoles%n", answered, n);
        } finally {
            for (VirtualMachine vm : vms) {
                vm.close();
            }
        }
    }
}
