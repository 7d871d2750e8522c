import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import org.jvisor.api.TranslationCache;
import org.jvisor.api.VirtualMachine;
import org.jvisor.config.MachineConfig;

/**
 * Boots the demo guest N times, one after the other, in one JVM through the Java API, and prints
 * the time from start to the guest's "ready" line for each boot (and the CPU time of its vCPU
 * thread): once with every VM on its own translations, once with all sharing one TranslationCache
 * (issue 13: the N-th guest starts warm).
 * Usage (bench/shared-boot.sh runs it): java -cp target/jvisor.jar bench/SharedBoot.java GUEST_DIR N
 */
public class SharedBoot {
    static final String READY = "jvisor-guest: ready";

    /** Console output kept only to find the ready line. */
    static final class Console extends OutputStream {
        private final StringBuilder text = new StringBuilder();

        @Override
        public synchronized void write(int b) {
            text.append((char) (b & 0xFF));
            notifyAll();
        }

        synchronized void await(String s) throws InterruptedException {
            while (text.indexOf(s) < 0) {
                wait(1000);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Path guest = Path.of(args[0]);
        int n = Integer.parseInt(args[1]);
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
        for (boolean share : new boolean[] {false, true}) {
            TranslationCache cache = new TranslationCache();
            StringBuilder line = new StringBuilder(share ? "shared cache " : "own caches   ");
            StringBuilder cpu = new StringBuilder("  vCPU time  ");
            for (int i = 0; i < n; i++) {
                Console console = new Console();
                MachineConfig config = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(512L << 20)
                    .kernel(guest.resolve("vmlinuz")).initrd(guest.resolve("initramfs.cpio.gz")).append("console=ttyS0")
                    .serial(new MachineConfig.SerialConfig.Streams(console, null)).build();
                long t0 = System.nanoTime();
                try (VirtualMachine vm = share ? VirtualMachine.create(config, quiet, cache) : VirtualMachine.create(config, quiet)) {
                    vm.start();
                    console.await(READY);
                    line.append(String.format(" %5.2f", (System.nanoTime() - t0) / 1e9));
                    cpu.append(String.format(" %5.2f", vm.usage().vcpuTime().toNanos() / 1e9));
                    vm.quit();
                    vm.awaitExit();
                }
            }
            System.out.println(line + "   (seconds to the guest's ready line, boots 1.." + n + ")");
            System.out.println(cpu + "   (of which the vCPU thread ran: less noisy on a busy host)");
        }
    }
}
