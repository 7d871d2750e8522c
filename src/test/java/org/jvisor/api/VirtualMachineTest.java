package org.jvisor.api;

import org.jvisor.testing.GuestTest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.config.MachineConfig;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The lifecycle through the public API only, on the small test guests: states and events as QEMU
 * names and orders them, vCPU host threads, disks, bad configurations. The demo guest's power
 * button is in {@link PowerButtonTest}.
 */
@GuestTest
class VirtualMachineTest {
    private final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    private final PrintStream log = new PrintStream(logBytes, true, StandardCharsets.UTF_8);

    private static MachineConfig.Builder guest(String name) {
        return MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(64L << 20)
            .kernel(JvisorProcess.guest(name)).debugExit(new MachineConfig.DebugExitConfig(0xf4, 4));
    }

    /**
     * A guest that spins without a single exit, so every pause must kick its vCPU out of the
     * engine. The vCPU's host thread (query-cpus-fast's thread-id) burns CPU time only while the
     * machine runs: a paused machine's stays put.
     */
    @ParameterizedTest
    @ValueSource(strings = {"kvm", "tcg"})
    void pauseResumeResetAndQuitAsQmpDoes(String engine) throws Exception {
        if (engine.equals("kvm")) {
            KvmAvailability.assumeKvm();
        }
        MachineConfig config = guest("spin.elf")
            .accel(engine.equals("kvm") ? MachineConfig.Accel.KVM : MachineConfig.Accel.TCG).build();
        RecordedEvents events = new RecordedEvents();
        VirtualMachine vm = VirtualMachine.create(config, log);
        vm.addListener(events);
        assertEquals(RunState.PRELAUNCH, vm.status());
        assertEquals(engine, vm.accelerator());
        VcpuInfo cpu = vm.vcpus().getFirst();
        assertEquals(1, vm.vcpus().size());
        assertEquals(0, cpu.index());
        assertEquals(engine, cpu.engine());
        assertEquals("vcpu-0", hostThreadName(cpu.hostThreadId()), "thread-id is the vCPU's own host thread");

        vm.start();
        assertEquals(RunState.RUNNING, vm.status());
        assertTrue(vm.status().isRunning());
        long running = cpuTicks(cpu.hostThreadId());
        waitForCpuTime(cpu.hostThreadId(), running + 5);

        vm.pause();
        assertEquals(RunState.PAUSED, vm.status());
        long paused = cpuTicks(cpu.hostThreadId());
        Thread.sleep(300);
        assertEquals(paused, cpuTicks(cpu.hostThreadId()), "a paused vCPU's thread runs nothing");
        vm.pause();                                       // QMP stop on a paused machine: nothing
        vm.resume();
        waitForCpuTime(cpu.hostThreadId(), paused + 5);

        vm.reset();                                       // a running machine boots again at once
        assertEquals(RunState.RUNNING, vm.status());
        vm.powerDown();                                   // no ACPI on a test guest: only POWERDOWN
        vm.pause();
        vm.reset();                                       // a stopped machine goes to prelaunch
        assertEquals(RunState.PRELAUNCH, vm.status());
        vm.resume();
        assertEquals(RunState.RUNNING, vm.status());

        vm.quit();
        VmExit exit = vm.awaitExit();
        assertEquals(new VmExit(0, ShutdownCause.HOST_QMP_QUIT, "quit (host-qmp-quit)"), exit);
        assertEquals(RunState.SHUTDOWN, vm.status());
        assertEquals(List.of("RESUME", "STOP", "RESUME", "RESET host-qmp-system-reset", "POWERDOWN", "STOP",
            "RESET host-qmp-system-reset", "RESUME", "SHUTDOWN host-qmp-quit"), events.names());
        List<VmEvent> list = events.list();
        for (int i = 1; i < list.size(); i++) {
            assertFalse(list.get(i).timestamp().isBefore(list.get(i - 1).timestamp()), "timestamps in order: " + list);
        }
        awaitThreadGone(cpu.hostThreadId());
        IllegalStateException e = assertThrows(IllegalStateException.class, vm::resume);
        assertTrue(e.getMessage().contains("has ended"), e.getMessage());
        vm.close();                                       // after the end: nothing to do
    }

    /** QEMU's -S: built, the vCPU thread waiting, no guest code runs until start (cont). */
    @Test
    void aMachineWaitsInPrelaunchUntilStarted() throws Exception {
        ConsoleCapture console = new ConsoleCapture();
        RecordedEvents events = new RecordedEvents();
        VirtualMachine vm = VirtualMachine.create(guest("hello.elf")
            .serial(new MachineConfig.SerialConfig.Streams(console, null)).build(), log);
        vm.addListener(events);
        long tid = vm.vcpus().getFirst().hostThreadId();
        Thread.sleep(200);
        assertEquals(RunState.PRELAUNCH, vm.status());
        assertEquals("", console.toString(), "no guest code ran");
        assertEquals(List.of(), events.names());
        assertTrue(vm.exit().isEmpty());

        vm.start();
        VmExit exit = vm.awaitExit();
        assertEquals(33, exit.status(), exit.toString());
        assertEquals(ShutdownCause.GUEST_SHUTDOWN, exit.cause());
        assertTrue(exit.detail().contains("isa-debug-exit"), exit.detail());
        assertTrue(console.toString().contains("Hello from a jvisor test guest"), console.toString());
        // isa-debug-exit ends the machine at once, as QEMU's exit(): no SHUTDOWN
        assertEquals(List.of("RESUME"), events.names());
        assertEquals(exit, vm.exit().orElseThrow());
        awaitThreadGone(tid);
        IllegalStateException e = assertThrows(IllegalStateException.class, vm::start);
        assertTrue(e.getMessage().contains("has ended"), e.getMessage());
    }

    /** A guest reset (here a triple fault) is RESET guest-reset; RAM survives it, the guest boots again. */
    @Test
    void aGuestResetIsReportedAndTheMachineBootsAgain() throws Exception {
        ConsoleCapture console = new ConsoleCapture();
        RecordedEvents events = new RecordedEvents();
        try (VirtualMachine vm = VirtualMachine.create(guest("triplefault.elf")
                .serial(new MachineConfig.SerialConfig.Streams(console, null)).build(), log)) {
            vm.addListener(events);
            vm.start();
            assertEquals(33, vm.awaitExit().status());
        }
        assertEquals(List.of("RESUME", "RESET guest-reset guest"), events.names());
        assertTrue(console.toString().contains("boot 1: triple fault next\nboot 2: after reset\n"), console.toString());
        assertTrue(logBytes.toString(StandardCharsets.UTF_8).contains("guest triple fault on vCPU 0 (RIP "), logBytes.toString());
    }

    /**
     * -no-reboot turns the reset into a shutdown (SHUTDOWN guest-reset), -no-shutdown keeps the
     * machine, stopped (STOP, status shutdown). Only a reset leaves that state; with -no-reboot a
     * reset is one more shutdown. quit ends it even with -no-shutdown.
     */
    @Test
    void noRebootAndNoShutdownStopTheMachineInsteadOfEndingIt() throws Exception {
        RecordedEvents events = new RecordedEvents();
        VirtualMachine vm = VirtualMachine.create(guest("triplefault.elf").noReboot(true).noShutdown(true).build(), log);
        vm.addListener(events);
        vm.start();
        events.await(VmEvent.Stop.class, 1);
        assertEquals(RunState.SHUTDOWN, vm.status());
        assertTrue(vm.status().needsReset());
        assertTrue(vm.exit().isEmpty(), "the machine stays");
        IllegalStateException e = assertThrows(IllegalStateException.class, vm::resume);
        assertEquals("Resetting the Virtual Machine is required", e.getMessage());
        vm.reset();
        assertEquals(RunState.SHUTDOWN, vm.status());
        vm.quit();
        assertEquals(0, vm.awaitExit().status());
        assertEquals(List.of("RESUME", "SHUTDOWN guest-reset guest", "STOP", "SHUTDOWN host-qmp-system-reset",
            "SHUTDOWN host-qmp-quit"), events.names());
        assertTrue(logBytes.toString(StandardCharsets.UTF_8).contains("-no-reboot given, stopping (-no-shutdown given)"),
            logBytes.toString());
    }

    /**
     * Listeners run on the machine's event thread, in order, and may drive the machine: here a
     * pause on the first RESUME. Waiting for the end there is refused (it would wait for itself).
     */
    @Test
    void listenersMayDriveTheMachineButNotWaitForItsEnd() throws Exception {
        RecordedEvents events = new RecordedEvents();
        List<String> seen = new CopyOnWriteArrayList<>();
        VirtualMachine vm = VirtualMachine.create(guest("spin.elf").build(), log);
        vm.addListener(event -> {
            seen.add(Thread.currentThread().getName());
            if (event instanceof VmEvent.Resume && seen.size() == 1) {
                vm.pause();
                try {
                    vm.awaitExit();
                } catch (IllegalStateException e) {
                    seen.add("refused: " + e.getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        VirtualMachine.Subscription second = vm.addListener(events);
        vm.start();
        events.await(VmEvent.Stop.class, 1);
        assertEquals(RunState.PAUSED, vm.status());
        second.close();
        vm.quit();
        vm.awaitExit();
        assertEquals(List.of("RESUME", "STOP"), events.names(), "a removed listener hears no more");
        assertEquals("jvisor-events", seen.getFirst());
        assertTrue(seen.get(1).startsWith("refused: awaitExit on the event thread"), seen.toString());
        assertEquals(List.of("jvisor-events"), seen.stream().filter(s -> !s.startsWith("refused")).distinct().toList());
    }

    /** query-block: the disks the devices use, with their images' sizes. */
    @Test
    void blockDevicesAreTheAttachedDrives(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[1 << 20]);
        MachineConfig config = guest("hello.elf")
            .drive(new MachineConfig.DriveConfig("d0", image, true, "writeback", false))
            .device(new MachineConfig.VirtioDeviceConfig.VirtioBlk("d0", MachineConfig.Transport.PCI)).build();
        try (VirtualMachine vm = VirtualMachine.create(config, log)) {
            assertEquals(List.of(new BlockDeviceInfo("d0", image, true, "raw", 1 << 20, "writeback")), vm.blockDevices());
        }
    }

    /** Bad configurations are a VmException naming the option, the cause kept; nothing is left running. */
    @Test
    void aMachineThatCannotBeBuiltIsAVmException(@TempDir Path dir) throws IOException {
        VmException e = assertThrows(VmException.class,
            () -> VirtualMachine.create(guest("hello.elf").kernel(dir.resolve("nope.elf")).build(), log));
        assertTrue(e.getMessage().contains("nope.elf"), e.getMessage());
        assertInstanceOf(Exception.class, e.getCause());
        MachineConfig missingDrive = guest("hello.elf")
            .drive(new MachineConfig.DriveConfig("d0", dir.resolve("none.img"), false, "writeback", false))
            .device(new MachineConfig.VirtioDeviceConfig.VirtioBlk("d0", MachineConfig.Transport.PCI)).build();
        e = assertThrows(VmException.class, () -> VirtualMachine.create(missingDrive, log));
        assertTrue(e.getMessage().startsWith("-drive file=" + dir.resolve("none.img")), e.getMessage());
        e = assertThrows(VmException.class, () -> VirtualMachine.create(MachineConfig.builder()
            .firmware(new MachineConfig.Firmware(dir.resolve("nobios.bin"), null, false, 0, -1)).build(), log));
        assertTrue(e.getMessage().contains("-bios " + dir.resolve("nobios.bin")), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> guest("hello.elf").cpus(0).build());
    }

    /**
     * Waits until the host thread has gone: Thread.join returns when the Java thread has ended,
     * the native thread leaves /proc a moment later. The loop's limit is a watchdog only.
     */
    private static void awaitThreadGone(long tid) throws InterruptedException {
        Path task = Path.of("/proc/self/task/" + tid);
        for (int i = 0; Files.exists(task); i++) {
            if (i == 60_000) {
                throw new AssertionError("the vCPU thread " + tid + " is still there after the machine ended");
            }
            Thread.sleep(1);
        }
    }

    /** The name the kernel gives a host thread (/proc/self/task/TID/comm). */
    private static String hostThreadName(long tid) throws IOException {
        return Files.readString(Path.of("/proc/self/task/" + tid + "/comm")).strip();
    }

    /** User plus system CPU time of a host thread, in clock ticks (proc(5), /proc/PID/task/TID/stat fields 14, 15). */
    private static long cpuTicks(long tid) throws IOException {
        String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    /** Waits (watchdog: the build's) until the thread has used {@code ticks} of CPU time. */
    private static void waitForCpuTime(long tid, long ticks) throws IOException, InterruptedException {
        while (cpuTicks(tid) < ticks) {
            Thread.sleep(10);
        }
    }
}
