package org.jvisor.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.config.MachineConfig;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * The shapes QMP's migrate, query-migrate, -incoming defer and migrate-incoming will call, on a
 * small guest: migrate takes a running machine to postmigrate (STOP) and records its run state;
 * a machine built to wait (inmigrate) refuses to start, restores through migrateIncoming into
 * paused and runs on; a failed incoming restore ends that machine with status 1, as QEMU exits.
 */
@GuestTest
class MigrationApiTest {
    @TempDir
    Path dir;

    private static MachineConfig config() {
        return MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(64L << 20)
            .kernel(JvisorProcess.guest("spin.elf")).serial(new MachineConfig.SerialConfig.None()).build();
    }

    @Test
    void migrateToAFileThenMigrateIncomingRunsTheGuestOn() throws Exception {
        Path file = dir.resolve("vm.jvsnap");
        RecordedEvents events = new RecordedEvents();
        try (VirtualMachine vm = VirtualMachine.create(config())) {
            vm.addListener(events);
            assertEquals(MigrationStatus.NONE, vm.queryMigrate());
            assertThrows(IllegalStateException.class, () -> vm.saveSnapshot(file), "prelaunch: nothing ran");
            vm.start();
            assertThrows(IllegalStateException.class, () -> vm.saveSnapshot(file), "saveSnapshot wants a paused machine");
            assertEquals("migration URI 'rdma:h:4444': jvisor takes file:PATH, unix:PATH, tcp:HOST:PORT and exec:CMD",
                assertThrows(IllegalArgumentException.class, () -> vm.migrate("rdma:h:4444")).getMessage());
            MigrationStatus done = vm.migrate("file:" + file);
            assertEquals(MigrationStatus.Status.COMPLETED, done.status());
            assertEquals("completed", vm.queryMigrate().status().qemuName());
            assertEquals(RunState.POSTMIGRATE, vm.status());
            assertEquals((64L << 20) / 4096, done.normalPages() + done.duplicatePages());
            assertEquals(Files.size(file), done.fileBytes());
            vm.resume();                      // cont after a migration: the source runs on
            assertEquals(RunState.RUNNING, vm.status());
        }
        // a running machine migrates live: its RAM goes while it runs (active), it stops for the rest
        assertEquals(List.of("RESUME", "MIGRATION setup", "MIGRATION active", "STOP", "MIGRATION completed", "RESUME",
            "SHUTDOWN host-qmp-quit"), events.names());

        try (VirtualMachine vm = VirtualMachine.createIncoming(config(), System.err)) {
            assertEquals(RunState.INMIGRATE, vm.status());
            assertThrows(IllegalStateException.class, vm::start);
            assertThrows(IllegalStateException.class, vm::resume);
            assertThrows(IllegalStateException.class, vm::reset);
            assertEquals(List.of(), vm.vcpus());
            vm.migrateIncoming("file:" + file);
            assertEquals(RunState.PAUSED, vm.status());
            assertEquals(Optional.of(RunState.RUNNING), vm.incomingRunState(), "the source ran when it was migrated");
            assertThrows(IllegalStateException.class, () -> vm.migrateIncoming("file:" + file), "only once");
            vm.resume();
            assertEquals(RunState.RUNNING, vm.status());
        }
    }

    @Test
    void aFailedIncomingRestoreEndsTheWaitingMachine() throws Exception {
        Path file = dir.resolve("vm.jvsnap");
        try (VirtualMachine vm = VirtualMachine.create(config())) {
            vm.start();
            vm.pause();
            vm.saveSnapshot(file);
        }
        byte[] all = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(all, all.length - 1000));
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (VirtualMachine vm = VirtualMachine.createIncoming(config(), new PrintStream(log, true, StandardCharsets.UTF_8))) {
            VmException e = assertThrows(VmException.class, () -> vm.migrateIncoming("file:" + file));
            assertTrue(e.getMessage().startsWith("-incoming: " + file + " is truncated"), e.getMessage());
            VmExit exit = vm.awaitExit();
            assertEquals(1, exit.status());
            assertEquals(ShutdownCause.HOST_ERROR, exit.cause());
        }
    }

    /**
     * A destination waiting for a source that never comes: quit (QMP's, or close) ends it at once,
     * as QEMU's does, with the quit's status; the waiting migrate-incoming is told the machine quit.
     */
    @Test
    void quitWhileWaitingForTheSourceEndsTheMachine() throws Exception {
        Path sock = dir.resolve("never.sock");
        try (VirtualMachine vm = VirtualMachine.createIncoming(config(), System.err)) {
            java.util.concurrent.CompletableFuture<Throwable> waiting = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    vm.migrateIncoming("unix:" + sock);
                    return null;
                } catch (VmException | RuntimeException e) {
                    return e;
                }
            });
            long guard = System.nanoTime() + 60_000_000_000L;
            while (!Files.exists(sock)) {
                assertTrue(System.nanoTime() < guard, "hang guard: the machine never listened");
                Thread.sleep(1);
            }
            Throwable e;
            try {
                // hang guard only: a quit that waited for the source would wait forever
                java.util.concurrent.CompletableFuture.runAsync(vm::quit).get(60, java.util.concurrent.TimeUnit.SECONDS);
                e = waiting.get(60, java.util.concurrent.TimeUnit.SECONDS);
            } finally {
                if (!waiting.isDone()) {   // so that close() is not stuck behind the wait too
                    java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(sock)).close();
                }
            }
            assertTrue(e instanceof IllegalStateException && e.getMessage().contains("quit while waiting"), String.valueOf(e));
            VmExit exit = vm.awaitExit();
            assertEquals(0, exit.status());
            assertEquals(ShutdownCause.HOST_QMP_QUIT, exit.cause());
        }
    }
}
