package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * virtio-balloon through virtio-mmio's registers, as Linux's driver uses it: the host's target in
 * num_pages with a configuration interrupt, the driver's actual, the frames of the inflate queue
 * given back to the host in runs, and the statistics buffer the device keeps until it wants new
 * figures, also across a saved and restored state.
 */
class VirtioBalloonTest {
    private static final long RAM = 256L << 20;

    private final List<long[]> discarded = new ArrayList<>();
    /** What the device reported after each change of actual: the RAM the guest has now. */
    private final List<Long> actuals = new ArrayList<>();
    private final List<String> log = new ArrayList<>();

    private VirtioBalloon balloon() {
        return new VirtioBalloon(RAM, false, (gpa, length) -> {
            if (gpa + length > RAM) {
                return false;
            }
            discarded.add(new long[] {gpa, length});
            return true;
        }, actuals::add, log::add);
    }

    private static void putPfns(Driver d, long at, long... pfns) {
        for (int i = 0; i < pfns.length; i++) {
            d.ram.writeU32(at + 4L * i, (int) pfns[i]);
        }
    }

    @Test
    void theInflatedFramesGoBackToTheHostInRunsAndFramesOutsideRamAreIgnored() {
        try (Driver d = new Driver(balloon(), 8).start()) {
            putPfns(d, Driver.DATA, 0x100, 0x101, 0x102, 0x200, 0x5000000, 0x103, 0x302, 0x301, 0x300);
            d.desc(0, Driver.DATA, 9 * 4, 0, 0);
            d.offer(0);
            d.kick(VirtioBalloon.INFLATE);
            assertEquals(1, d.usedIdx());
            assertEquals(4, discarded.size(), "four runs: 0x100-0x102, 0x200, 0x103, 0x300-0x302 listed downwards");
            assertEquals(0x100000L, discarded.get(0)[0]);
            assertEquals(0x3000L, discarded.get(0)[1]);
            assertEquals(0x200000L, discarded.get(1)[0]);
            assertEquals(0x1000L, discarded.get(1)[1]);
            assertEquals(0x103000L, discarded.get(2)[0]);
            assertEquals(0x300000L, discarded.get(3)[0]);
            assertEquals(0x3000L, discarded.get(3)[1]);
            assertEquals(1, log.size(), log.toString());
            assertTrue(log.getFirst().contains("0x5000000") && log.getFirst().contains("not guest RAM"), log.toString());
        }
    }

    @Test
    void theTargetReachesTheDriverAndItsActualComesBack() {
        VirtioBalloon b = balloon();
        try (Driver d = new Driver(b, 8).start()) {
            assertEquals(0, d.r(VirtioMmioTransport.CONFIG));
            d.ackInterrupt();
            b.setTarget(RAM - (64L << 20));     // QMP balloon: keep 192 MiB
            assertEquals(16384, d.r(VirtioMmioTransport.CONFIG), "num_pages: 64 MiB of 4 KiB pages");
            assertTrue((d.ackInterrupt() & Virtio.INT_CONFIG) != 0, "a configuration change interrupt");
            assertEquals(RAM, b.actualBytes(), "nothing taken yet");
            d.w(VirtioMmioTransport.CONFIG + 4, 16384);     // the driver: actual
            assertEquals(List.of(RAM - (64L << 20)), actuals);
            assertEquals(RAM - (64L << 20), b.actualBytes());
            d.w(VirtioMmioTransport.CONFIG + 4, 16384);
            assertEquals(List.of(RAM - (64L << 20)), actuals, "no change, no event");
            d.w(VirtioMmioTransport.CONFIG, 7);             // num_pages is the host's
            assertEquals(16384, d.r(VirtioMmioTransport.CONFIG));
            b.setTarget(RAM * 2);
            assertEquals(0, d.r(VirtioMmioTransport.CONFIG), "more than the RAM: give it all back");
            d.w(VirtioMmioTransport.STATUS, 0);             // reset: the driver holds nothing
            assertEquals(List.of(RAM - (64L << 20), RAM), actuals);
            assertEquals(RAM, b.actualBytes());
        }
    }

    @Test
    void theConfigurationSpaceIsNumPagesThenActualLittleEndianAndOnlyActualIsTheDrivers() {
        VirtioBalloon b = balloon();
        b.setTarget(RAM - 0x0234_5000L);                    // 0x2345 pages
        b.writeConfig(VirtioBalloon.CONFIG_ACTUAL, 4, 0x0A0B_0C0D);
        assertEquals(0x0A0B_0C0D_0000_2345L, b.readConfig(0, 8), "num_pages in the low half, actual above");
        assertEquals(0x23, b.readConfig(1, 1));
        assertEquals(0x0C0D_0000L, b.readConfig(2, 4), "an access across both fields");
        assertEquals(0, b.readConfig(6, 4), "past the end: 0");

        b.writeConfig(2, 4, 0xFFFF_FFFFL);                  // across both: only actual's low half takes it
        assertEquals(0x0A0B_FFFF_0000_2345L, b.readConfig(0, 8));
        b.writeConfig(0, 8, 0x0000_0007_FFFF_FFFFL);
        assertEquals(0x0000_0007_0000_2345L, b.readConfig(0, 8), "num_pages stays the host's");
        b.writeConfig(6, 4, -1L);                           // past the end: ignored
        assertEquals(0x0000_0007_0000_2345L, b.readConfig(0, 8));
        assertEquals(List.of(RAM - (0x0A0B_0C0DL << 12), RAM - (0x0A0B_FFFFL << 12), RAM - (7L << 12)), actuals);
    }

    /** The driver's statistics buffer: tag le16, value le64 per figure. */
    private static void putStats(Driver d, long at, int[] tags, long[] values) {
        for (int i = 0; i < tags.length; i++) {
            d.ram.writeU16(at + 10L * i, (short) tags[i]);
            d.ram.writeU64(at + 10L * i + 2, values[i]);
        }
    }

    /** virtio_balloon's bring-up with only the statistics queue ready (its rings where the driver keeps queue 0's). */
    private static Driver statsDriver(VirtioBalloon b) {
        Driver d = new Driver(b, 8);
        assertTrue((d.negotiate(-1L) & Virtio.STATUS_FEATURES_OK) != 0);
        d.setupQueue(VirtioBalloon.STATS);
        d.addStatus(Virtio.STATUS_DRIVER_OK);
        return d;
    }

    @Test
    void theStatisticsBufferIsKeptUntilNewFiguresAreWantedAlsoAcrossASnapshot() throws Exception {
        VirtioBalloon b = balloon();
        assertTrue((b.deviceFeatures() & Virtio.bit(VirtioBalloon.F_STATS_VQ)) != 0);
        try (Driver d = statsDriver(b)) {
            putStats(d, Driver.DATA, new int[] {4, 5}, new long[] {123_456_789L, 268_435_456L});
            d.desc(0, Driver.DATA, 20, 0, 0);
            d.offer(0);
            d.kick(VirtioBalloon.STATS);
            assertEquals(0, d.usedIdx(), "held, not used");
            assertEquals(123_456_789L, b.guestStats().stats().get("stat-free-memory"));
            assertEquals(268_435_456L, b.guestStats().stats().get("stat-total-memory"));
            assertEquals(-1L, b.guestStats().stats().get("stat-swap-in"), "not reported");

            b.requestStats();
            assertEquals(1, d.usedIdx(), "given back: the driver refills it");
            assertEquals(0, d.usedId(0));
            putStats(d, Driver.DATA, new int[] {4}, new long[] {42L});
            d.offer(0);
            d.kick(VirtioBalloon.STATS);
            assertEquals(42L, b.guestStats().stats().get("stat-free-memory"));

            // saved while the device holds it: a restored twin gives that same buffer back
            VirtioBalloonState saved = (VirtioBalloonState) b.saveState();
            assertEquals(0, saved.statsHead());
            VirtioBalloon twin = balloon();
            twin.restoreState(saved);
            assertEquals(saved, twin.saveState());
        }
    }

    @Test
    void aPollingIntervalAsksForNewFiguresByItself() throws Exception {
        VirtioBalloon b = balloon();
        // the balloon closes first: its timer must not outlive guest RAM
        try (Driver d = statsDriver(b); VirtioBalloon closedFirst = b) {
            putStats(d, Driver.DATA, new int[] {4}, new long[] {1L});
            d.desc(0, Driver.DATA, 10, 0, 0);
            d.offer(0);
            d.kick(VirtioBalloon.STATS);
            assertEquals(0, d.usedIdx());
            b.setStatsPollingInterval(1);     // QEMU's guest-stats-polling-interval, seconds
            assertEquals(1, b.statsPollingInterval());
            long end = System.nanoTime() + 60_000_000_000L;     // a hang guard, not a speed check
            while (d.usedIdx() == 0) {
                assertTrue(System.nanoTime() < end, "the timer never asked");
                Thread.sleep(20);
            }
            b.setStatsPollingInterval(0);
            assertEquals(0, b.statsPollingInterval());
        }
    }
}
