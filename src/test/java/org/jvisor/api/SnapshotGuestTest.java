package org.jvisor.api;

import org.jvisor.testing.DemoGuest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.config.MachineConfig;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitScript;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorSession;

/**
 * Snapshot and restore of the demo Linux guest on tcg with two vCPUs: a shell loop prints a counter on the
 * serial console; the machine is paused and saved, then restored in a new machine (through the
 * API, and through {@code ./jvisor -incoming file:PATH} as a process), while an md5sum runs. The counter goes on from
 * where it was (it does not start again, so guest RAM, the vCPU and the shell's state came back),
 * the md5sum ends with the right digest, a loop of disk reads in flight at the save runs to its end,
 * the loop's sleep ends (timers run on), the shell still answers a command typed on the
 * console (the UART and the interrupt path work) and the virtio disk answers a read the guest
 * never made before the save (its queue and MSI-X came back). A snapshot restored into another configuration
 * is refused with a message naming what differs, and nothing is left running.
 */
@GuestTest
class SnapshotGuestTest {
    private static final Pattern TICK = Pattern.compile("tick (\\d+)");
    private static final String LOOP = "i=0; while true; do i=$((i+1)); echo \"tick $i\"; sleep 1; done &\n";
    /** A computation of seconds on tcg, in flight at the save: md5sum of 4 MiB of zeros. */
    private static final String MD5 = "head -c 4194304 /dev/zero | md5sum &\n";
    /** Disk reads in flight at the save: its first MiB read again and again, the page cache dropped each time. */
    private static final int DISK_PASSES = 5;
    private static final String DISK_LOOP = "for p in $(seq " + DISK_PASSES + "); do echo 3 > /proc/sys/vm/drop_caches;"
        + " dd if=/dev/vda of=/dev/null bs=64k count=16 2>/dev/null && echo disk-pass-$p; done &\n";
    private static final String MD5_OF_4_MIB_OF_ZEROS = "b5cfa9d6c8febd618f91ac2843d50a1c";

    @TempDir
    Path dir;

    /** A disk the guest reads only after the restore, at an offset its partition scan never touches. */
    private static final long MARKER_AT = 3L << 20;
    private static final String MARKER = "DISK-MARKER-7733";

    private Path disk() throws IOException {
        Path image = dir.resolve("disk.img");
        if (!Files.exists(image)) {
            byte[] b = new byte[4 << 20];
            byte[] m = MARKER.getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(m, 0, b, (int) MARKER_AT, m.length);
            Files.write(image, b);
        }
        return image;
    }

    @Test
    void aRestoredGuestContinuesItsCounterAndAnswersTheConsole() throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        Path snapshot = dir.resolve("demo.jvsnap");
        int lastTick = bootCountAndSave(guest, snapshot);

        // restored through the API, into a new machine
        ConsoleCapture console = new ConsoleCapture();
        PipedOutputStream keyboard = new PipedOutputStream();
        try (VirtualMachine vm = VirtualMachine.restore(withDisk(guest, console, new PipedInputStream(keyboard, 4096)),
                snapshot)) {
            assertEquals(RunState.PAUSED, vm.status(), "a restored machine waits to be resumed");
            vm.resume();
            // the counter goes on, the computation in flight finishes right, the disk reads in flight
            // go on to the end: in whatever order the guest prints them
            eventually(console::toString, "tick " + (lastTick + 1), MD5_OF_4_MIB_OF_ZEROS, "disk-pass-" + DISK_PASSES);
            assertFalse(console.toString().contains("tick 1\r\n"), "the counter started again:\n" + console);
            keyboard.write("echo answer-$((6*7))\n".getBytes(StandardCharsets.US_ASCII));
            keyboard.flush();
            console.await("answer-42");
            // the virtio disk answers a read the guest never made before the save
            keyboard.write(("dd if=/dev/vda bs=4096 skip=" + MARKER_AT / 4096 + " count=1 2>/dev/null | head -c 16; echo\n")
                .getBytes(StandardCharsets.US_ASCII));
            keyboard.flush();
            console.await(MARKER);
            console.await("tick " + (lastTick + 3));
        }

        // and through the command line, as a process: runs on at once (no -S)
        try (JvisorSession s = JvisorSession.start("-accel", "tcg", "-m", "512M", "-smp", "2", "-nographic", "-kernel",
                guest.kernel().toString(), "-initrd", guest.initramfs().toString(), "-append", DemoGuest.CONSOLE,
                "-drive", "id=d0,file=" + disk() + ",format=raw,if=none", "-device", "virtio-blk-pci,drive=d0",
                "-incoming", "file:" + snapshot)) {
            s.expectStderr("restored from " + snapshot);
            eventually(s::stdout, "tick " + (lastTick + 1), MD5_OF_4_MIB_OF_ZEROS, "disk-pass-" + DISK_PASSES);
            s.send("echo answer-$((7*7))\n");
            s.expect("answer-49");
            assertFalse(s.stdout().contains("Linux version"), "the restored guest booted again");
            s.terminate();
            s.waitFor();
        }
    }

    @Test
    void aSnapshotOfAnotherConfigurationIsRefusedByName() throws Exception {
        GuestBuilder.Guest guest = DemoGuest.build();
        Path snapshot = dir.resolve("small.jvsnap");
        ConsoleCapture console = new ConsoleCapture();
        try (VirtualMachine vm = VirtualMachine.create(config(guest, console, null, 256, 1))) {
            vm.start();
            console.await("Linux version");
            vm.pause();
            MigrationStatus saved = vm.saveSnapshot(snapshot);
            assertEquals(MigrationStatus.Status.COMPLETED, saved.status());
            assertEquals(saved, vm.queryMigrate());
            assertEquals(RunState.PAUSED, vm.status(), "saving keeps the machine paused");
        }
        VmException e = assertThrows(VmException.class,
            () -> VirtualMachine.restore(config(guest, new ConsoleCapture(), null, 512, 1), snapshot));
        assertTrue(e.getMessage().contains("was saved from a machine with 256 MiB of RAM; this one has 512 MiB"
            + " (-m must match)"), e.getMessage());
        assertTrue(e.getMessage().contains(snapshot.toString()), e.getMessage());
        MachineConfig twoCpus = MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(256L << 20).cpus(2)
            .kernel(guest.kernel()).initrd(guest.initramfs()).append(DemoGuest.CONSOLE)
            .serial(new MachineConfig.SerialConfig.None()).build();
        e = assertThrows(VmException.class, () -> VirtualMachine.restore(twoCpus, snapshot));
        assertTrue(e.getMessage().contains("-smp must match"), e.getMessage());
    }

    /** Boots the demo guest, starts the counter, pauses after a few ticks and saves; returns the last tick printed. */
    private int bootCountAndSave(GuestBuilder.Guest guest, Path snapshot) throws Exception {
        ConsoleCapture console = new ConsoleCapture();
        PipedOutputStream keyboard = new PipedOutputStream();
        try (VirtualMachine vm = VirtualMachine.create(withDisk(guest, console, new PipedInputStream(keyboard, 4096)))) {
            assertEquals(2, vm.vcpus().size());
            vm.start();
            console.await(InitScript.READY_LINE);
            keyboard.write(LOOP.getBytes(StandardCharsets.US_ASCII));
            keyboard.flush();
            console.await("tick 3");
            keyboard.write(MD5.getBytes(StandardCharsets.US_ASCII));
            keyboard.flush();
            console.await("md5sum &");   // the shell echoed it: the computation is starting
            keyboard.write(DISK_LOOP.getBytes(StandardCharsets.US_ASCII));
            keyboard.flush();
            console.await("disk-pass-1");
            vm.pause();
            assertFalse(console.toString().contains("disk-pass-" + DISK_PASSES), "the disk loop ended before the save");
            assertFalse(console.toString().contains(MD5_OF_4_MIB_OF_ZEROS), "md5sum ended before the save:\n" + console);
            assertThrows(IllegalArgumentException.class, () -> vm.migrate("rdma:host:4444"));
            MigrationStatus saved = vm.saveSnapshot(snapshot);
            assertEquals(RunState.PAUSED, vm.status());
            assertTrue(saved.ramTransferred() > 0 && saved.duplicatePages() > 0, saved.toString());
            assertTrue(Files.size(snapshot) < (512L << 20) / 2, "zero pages are skipped: " + Files.size(snapshot));
            return lastTick(console.toString());
        }
    }

    /** Waits (a watchdog, not a time limit) until every one of {@code texts} is in {@code output}, in any order. */
    private static void eventually(java.util.function.Supplier<String> output, String... texts)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + 15 * 60 * 1000;
        while (!java.util.Arrays.stream(texts).allMatch(output.get()::contains)) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("watchdog: not all of " + java.util.Arrays.toString(texts) + " in:\n"
                    + output.get());
            }
            Thread.sleep(20);
        }
    }

    private static int lastTick(String console) {
        Matcher m = TICK.matcher(console);
        int last = -1;
        while (m.find()) {
            last = Integer.parseInt(m.group(1));
        }
        assertTrue(last >= 3, console);
        return last;
    }

    private static MachineConfig config(GuestBuilder.Guest guest, ConsoleCapture console, PipedInputStream keyboard,
                                        int mib, int cpus) throws IOException {
        return builder(guest, console, keyboard, mib, cpus).build();
    }

    private static MachineConfig.Builder builder(GuestBuilder.Guest guest, ConsoleCapture console,
                                                 PipedInputStream keyboard, int mib, int cpus) {
        return MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory((long) mib << 20).cpus(cpus)
            .kernel(guest.kernel()).initrd(guest.initramfs()).append(DemoGuest.CONSOLE)
            .serial(new MachineConfig.SerialConfig.Streams(console, keyboard));
    }

    /** The counter test's machine: two vCPUs and a virtio disk. */
    private MachineConfig withDisk(GuestBuilder.Guest guest, ConsoleCapture console, PipedInputStream keyboard)
            throws IOException {
        return builder(guest, console, keyboard, 512, 2)
            .drive(new MachineConfig.DriveConfig("d0", disk(), false, "writeback", false))
            .device(new MachineConfig.VirtioDeviceConfig.VirtioBlk("d0", MachineConfig.Transport.PCI)).build();
    }
}
