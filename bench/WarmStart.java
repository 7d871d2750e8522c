import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import org.jvisor.api.VirtualMachine;
import org.jvisor.config.MachineConfig;
import org.jvisor.config.MachineConfig.MachineType;

/**
 * VMM start to the guest's first output byte for machines created one after another in one JVM
 * through the Java API (issue 13: "VMM start to first guest instruction", for the second and later
 * VMs of a jvisor process, which do not pay the JVM's own start). The guest is hello.elf, which
 * writes to COM1 within microseconds of its first instruction; each machine is built, started,
 * timed to that byte, and quit before the next one.
 * Usage (bench/warm-start.sh runs it): java -cp target/jvisor.jar bench/WarmStart.java HELLO_ELF N
 */
public class WarmStart {
    /** Records when the first byte arrives. */
    static final class FirstByte extends OutputStream {
        private long at;

        @Override
        public synchronized void write(int b) {
            if (at == 0) {
                at = System.nanoTime();
                notifyAll();
            }
        }

        synchronized long await() throws InterruptedException {
            while (at == 0) {
                wait(1000);
            }
            return at;
        }
    }

    public static void main(String[] args) throws Exception {
        Path elf = Path.of(args[0]);
        int n = Integer.parseInt(args[1]);
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
        for (MachineType type : new MachineType[] {MachineType.PC, MachineType.MICROVM}) {
            double[] ms = new double[n];
            for (int i = 0; i < n; i++) {
                FirstByte console = new FirstByte();
                long t0 = System.nanoTime();
                MachineConfig config = MachineConfig.builder().accel(MachineConfig.Accel.TCG).machineType(type)
                    .memory(128L << 20).kernel(elf).serial(new MachineConfig.SerialConfig.Streams(console, null)).build();
                try (VirtualMachine vm = VirtualMachine.create(config, quiet)) {
                    vm.start();
                    ms[i] = (console.await() - t0) / 1e6;
                    vm.quit();
                    vm.awaitExit();
                }
            }
            double[] later = Arrays.copyOfRange(ms, 1, n);
            Arrays.sort(later);
            StringBuilder line = new StringBuilder(String.format("%-8s first VM %6.1f ms; VMs 2..%d:", type.name().toLowerCase(), ms[0], n));
            for (int i = 1; i < n; i++) {
                line.append(String.format(" %.1f", ms[i]));
            }
            line.append(String.format("  (median %.1f ms)", later[later.length / 2]));
            System.out.println(line);
        }
    }
}
