package org.jvisor.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.config.MachineConfig;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

/**
 * Live migration on the kvm engine: dirtyram.elf writes its pass number into 512 pages, pass
 * after pass, checking that each page still holds the previous pass's number. It is migrated
 * over a Unix socket while it runs, with a downtime limit of 0 so that RAM goes in many passes
 * (KVM's dirty log tells which pages to send again); on the destination the guest goes on
 * checking every page, so a page the migration lost (written after a pass, never sent again)
 * makes it print "LOST". The same guest also moves live from tcg to kvm and from kvm to tcg.
 */
@GuestTest
class KvmLiveMigrationTest {
    /** The guest's region: 2 MiB at 4 MiB. */
    private static final long REGION = 2L << 20;

    @TempDir
    Path dir;

    @BeforeEach
    void needKvm() {
        KvmAvailability.assumeKvm();
    }

    private static MachineConfig config(MachineConfig.Accel accel, ConsoleCapture console) {
        return MachineConfig.builder().accel(accel).memory(64L << 20).kernel(JvisorProcess.guest("dirtyram.elf"))
            .serial(new MachineConfig.SerialConfig.Streams(console, null)).build();
    }

    /** Passes the guest reported ('.' each) since {@code from}; fails at once when it reported a lost page. */
    private static long passes(ConsoleCapture console, int from) {
        String text = console.toString();
        assertFalse(text.contains("LOST"), "the guest found a page the migration lost:\n" + text);
        return text.substring(Math.min(from, text.length())).chars().filter(c -> c == '.').count();
    }

    /** Waits until the guest has made {@code n} more passes after {@code from} (a hang guard of 2 min). */
    private static void awaitPasses(ConsoleCapture console, int from, long n) throws InterruptedException {
        long guard = System.nanoTime() + 120_000_000_000L;
        while (passes(console, from) < n) {
            assertTrue(System.nanoTime() < guard, "hang guard: " + console);
            Thread.sleep(2);
        }
    }

    /** migrate, again while the destination has bound its socket but not yet called listen (a failed connect leaves the source running). */
    private static MigrationStatus migrateOnceListening(VirtualMachine src, String uri) throws Exception {
        for (int i = 0; ; i++) {
            try {
                return src.migrate(uri);
            } catch (VmException e) {
                if (i >= 1000 || !e.getMessage().contains("Connection refused")) {
                    throw e;
                }
                Thread.sleep(5);
            }
        }
    }

    /** A destination still waiting for its source (the migration failed early) gets a connection that ends at once. */
    private static void unblock(CompletableFuture<Void> incoming, Path sock) {
        if (incoming.isDone()) {
            return;
        }
        try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(
                java.net.UnixDomainSocketAddress.of(sock))) {
            ch.shutdownOutput();
        } catch (java.io.IOException e) {
            // it stopped listening meanwhile
        }
    }

    @Test
    void aGuestWritingRamMovesLiveAndNoPageIsLost() throws Exception {
        migratesLive(MachineConfig.Accel.KVM, MachineConfig.Accel.KVM);
    }

    /** The same between engines: the stream's device records are converted at the destination. */
    @Test
    void aGuestMovesLiveFromTcgToKvmAndBack() throws Exception {
        migratesLive(MachineConfig.Accel.TCG, MachineConfig.Accel.KVM);
        migratesLive(MachineConfig.Accel.KVM, MachineConfig.Accel.TCG);
    }

    /**
     * A destination that goes away in the middle of the first pass: the migration fails, the
     * source runs on, and a second migration of it, to a real destination, logs its pages again
     * and completes.
     */
    @Test
    void aDestinationThatGoesAwayLeavesTheSourceRunning() throws Exception {
        Path sock = dir.resolve("gone.sock");
        ConsoleCapture console = new ConsoleCapture();
        try (VirtualMachine src = VirtualMachine.create(config(MachineConfig.Accel.KVM, console));
             java.nio.channels.ServerSocketChannel peer = java.nio.channels.ServerSocketChannel.open(
                 java.net.StandardProtocolFamily.UNIX)) {
            peer.bind(java.net.UnixDomainSocketAddress.of(sock));
            src.start();
            awaitPasses(console, 0, 3);
            CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
                try (java.nio.channels.SocketChannel ch = peer.accept()) {
                    java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(64 << 10);
                    while (buf.hasRemaining() && ch.read(buf) >= 0) {
                        // a little of the stream, then it is gone
                    }
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            VmException e = org.junit.jupiter.api.Assertions.assertThrows(VmException.class,
                () -> src.migrate("unix:" + sock));
            reader.join();
            assertEquals(MigrationStatus.Status.FAILED, src.queryMigrate().status(), e.getMessage());
            assertEquals(RunState.RUNNING, src.status(), "the source runs on");
            int at = console.toString().length();
            awaitPasses(console, at, 3);
            migratesLive(src, console, MachineConfig.Accel.KVM, dir.resolve("second.sock"));
        }
    }

    private void migratesLive(MachineConfig.Accel from, MachineConfig.Accel to) throws Exception {
        ConsoleCapture srcConsole = new ConsoleCapture();
        try (VirtualMachine src = VirtualMachine.create(config(from, srcConsole))) {
            src.start();
            awaitPasses(srcConsole, 0, 3);
            migratesLive(src, srcConsole, to, dir.resolve(from + "-to-" + to + ".sock"));
        }
    }

    /** Migrates the running {@code src} live to a new machine on {@code to} and checks both sides. */
    private static void migratesLive(VirtualMachine src, ConsoleCapture srcConsole, MachineConfig.Accel to, Path sock)
            throws Exception {
        ConsoleCapture dstConsole = new ConsoleCapture();
        try (VirtualMachine dst = VirtualMachine.createIncoming(config(to, dstConsole), System.err)) {
            CompletableFuture<Void> incoming = CompletableFuture.runAsync(() -> {
                try {
                    dst.migrateIncoming("unix:" + sock);
                } catch (VmException e) {
                    throw new IllegalStateException(e);
                }
            });
            long guard = System.nanoTime() + 60_000_000_000L;
            while (!Files.exists(sock)) {
                assertTrue(System.nanoTime() < guard, "hang guard: the destination never listened");
                Thread.sleep(1);
            }
            src.setMigrationDowntimeLimit(0);   // never "fits": passes go on while the guest dirties pages
            int atStart = srcConsole.toString().length();
            MigrationStatus done;
            try {
                done = migrateOnceListening(src, "unix:" + sock);
            } finally {
                unblock(incoming, sock);
            }
            incoming.join();
            long during = passes(srcConsole, atStart);

            assertEquals(MigrationStatus.Status.COMPLETED, done.status(), done.toString());
            assertEquals(RunState.POSTMIGRATE, src.status());
            assertTrue(done.dirtySyncCount() > 1, "RAM went in passes while the guest ran: " + done);
            assertTrue(during > 0, "the guest ran during the migration");
            assertTrue(done.ramTransferred() > REGION + REGION / 2,
                "pages the guest wrote after the first pass were sent again: " + done);
            assertEquals(RunState.PAUSED, dst.status());
            assertEquals(java.util.Optional.of(RunState.RUNNING), dst.incomingRunState());

            // every page is checked on each pass: two passes see all of them as the source left them
            dst.resume();
            awaitPasses(dstConsole, 0, 2);
            dst.pause();
            passes(srcConsole, 0);
        }
    }
}
