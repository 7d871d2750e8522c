package org.jvisor.api;

import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.jvisor.config.MachineConfig;
import org.jvisor.guest.InitScript;

/**
 * Snapshot size and save/restore times of the demo guest on tcg (bench/snapshot.sh): boot it with
 * -m MIB, start a console counter, pause, save; then restore into a new machine and resume until
 * the counter goes on. Prints one line of numbers.
 * Usage: SnapshotBench KERNEL INITRAMFS MIB FILE
 */
public final class SnapshotBench {
    private SnapshotBench() {
    }

    public static void main(String[] args) throws Exception {
        Path kernel = Path.of(args[0]);
        Path initrd = Path.of(args[1]);
        long mib = Long.parseLong(args[2]);
        Path file = Path.of(args[3]);
        ConsoleCapture console = new ConsoleCapture();
        PipedOutputStream keys = new PipedOutputStream();
        MachineConfig config = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(mib << 20)
            .kernel(kernel).initrd(initrd).append("console=ttyS0 quiet")
            .serial(new MachineConfig.SerialConfig.Streams(console, new PipedInputStream(keys, 4096))).build();
        MigrationStatus saved;
        long pauseNs;
        try (VirtualMachine vm = VirtualMachine.create(config)) {
            vm.start();
            console.await(InitScript.READY_LINE);
            keys.write("i=0; while true; do i=$((i+1)); echo \"tick $i\"; sleep 1; done &\n"
                .getBytes(StandardCharsets.US_ASCII));
            keys.flush();
            console.await("tick 2");
            long t0 = System.nanoTime();
            vm.pause();
            pauseNs = System.nanoTime() - t0;
            saved = vm.saveSnapshot(file);
        }
        ConsoleCapture after = new ConsoleCapture();
        MachineConfig again = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(mib << 20)
            .kernel(kernel).initrd(initrd).append("console=ttyS0 quiet")
            .serial(new MachineConfig.SerialConfig.Streams(after, null)).build();
        long t1 = System.nanoTime();
        long restoreNs;
        long untilTickNs;
        try (VirtualMachine vm = VirtualMachine.restore(again, file)) {
            restoreNs = System.nanoTime() - t1;
            vm.resume();
            after.await("tick ");
            untilTickNs = System.nanoTime() - t1;
        }
        System.out.printf("ram_mib=%d file_bytes=%d ram_written=%d zero_pages=%d pause_ms=%.1f save_ms=%d"
                + " restore_ms=%.1f restore_to_next_tick_ms=%.1f%n", mib, Files.size(file), saved.ramTransferred(),
            saved.duplicatePages(), pauseNs / 1e6, saved.totalTimeMs(), restoreNs / 1e6, untilTickNs / 1e6);
    }
}
