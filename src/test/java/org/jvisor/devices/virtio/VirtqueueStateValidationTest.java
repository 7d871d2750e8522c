package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;

/**
 * A virtqueue state is untrusted input, as rust-vmm's QueueState is: a restore refuses rings
 * outside guest RAM or misaligned, sizes that are not a power of two up to the maximum, indexes
 * beyond 16 bits and states of another device shape, naming the queue and the field, and leaves
 * the device as it was.
 */
class VirtqueueStateValidationTest {
    final Driver running = new Driver(new VirtioRng(), 16).start();
    final GuestMemory otherRam = GuestMemory.allocate(2L << 20);
    final List<String> log = new ArrayList<>();
    final VirtioMmioTransport fresh = new VirtioMmioTransport(new VirtioRng(), new IdentityDma(otherRam), level -> { },
        log::add);

    @AfterEach
    void tearDown() {
        running.close();
        otherRam.close();
    }

    /** The running device's state with queue 0 changed by {@code change}. */
    VirtioMmioState withQueue0(UnaryOperator<VirtqueueState> change) {
        VirtioMmioState s = running.mmio.saveState();
        VirtioState v = s.virtio();
        List<VirtqueueState> qs = new ArrayList<>(v.queues());
        qs.set(0, change.apply(qs.get(0)));
        return new VirtioMmioState(s.interruptStatus(), s.deviceFeaturesSel(), s.driverFeaturesSel(), s.queueSel(),
            new VirtioState(v.status(), v.driverFeatures(), v.activated(), v.needsReset(), v.needsResetReason(),
                v.configGeneration(), qs, v.device()));
    }

    static VirtqueueState rings(VirtqueueState q, long desc, long driver, long device) {
        return new VirtqueueState(q.maxSize(), q.size(), q.ready(), desc, driver, device, q.msixVector(), q.active(),
            q.nextAvail(), q.nextUsed(), q.signalledUsed(), q.usedSinceSignal());
    }

    static VirtqueueState sized(VirtqueueState q, int maxSize, int size) {
        return new VirtqueueState(maxSize, size, q.ready(), q.descTable(), q.driverArea(), q.deviceArea(), q.msixVector(),
            q.active(), q.nextAvail(), q.nextUsed(), q.signalledUsed(), q.usedSinceSignal());
    }

    /** Restoring {@code s} is refused with a message containing every one of {@code parts}; the device is untouched. */
    void refused(VirtioMmioState s, String... parts) {
        VirtioMmioState before = fresh.saveState();
        DeviceStateException e = assertThrows(DeviceStateException.class, () -> fresh.restoreState(s));
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + e.getMessage() + "' should name " + p);
        }
        assertEquals(before, fresh.saveState(), "a refused restore changes nothing");
        assertEquals(0, fresh.read(VirtioMmioTransport.STATUS, 4));
    }

    @Test
    void theUnchangedStateIsAccepted() throws DeviceStateException {
        VirtioMmioState s = running.mmio.saveState();
        fresh.restoreState(s);
        assertEquals(s, fresh.saveState());
    }

    @Test
    void aDescriptorTableRunningPastTheEndOfRamIsRefused() {
        long end = running.ram.size();
        refused(withQueue0(q -> rings(q, end - 0x80, q.driverArea(), q.deviceArea())),
            "virtqueue 0", "desc_table", "outside guest RAM");
    }

    @Test
    void aUsedRingOutsideRamIsRefused() {
        refused(withQueue0(q -> rings(q, q.descTable(), q.driverArea(), 1L << 40)),
            "virtqueue 0", "used_ring", "outside guest RAM");
    }

    @Test
    void aRingThatWrapsTheAddressSpaceIsRefused() {
        refused(withQueue0(q -> rings(q, q.descTable(), -16L, q.deviceArea())), "virtqueue 0", "avail_ring");
    }

    @Test
    void misalignedRingsAreRefused() {
        refused(withQueue0(q -> rings(q, q.descTable() + 8, q.driverArea(), q.deviceArea())),
            "virtqueue 0", "desc_table", "16-byte aligned");
        refused(withQueue0(q -> rings(q, q.descTable(), q.driverArea() + 1, q.deviceArea())),
            "virtqueue 0", "avail_ring", "2-byte aligned");
        refused(withQueue0(q -> rings(q, q.descTable(), q.driverArea(), q.deviceArea() + 2)),
            "virtqueue 0", "used_ring", "4-byte aligned");
    }

    @Test
    void aSizeThatIsNotAPowerOfTwoIsRefused() {
        refused(withQueue0(q -> sized(q, q.maxSize(), 12)), "virtqueue 0", "size 12", "not a power of two");
    }

    @Test
    void aSizeAboveTheMaximumIsRefused() {
        refused(withQueue0(q -> sized(q, q.maxSize(), 2 * q.maxSize())), "virtqueue 0", "size 128", "max_size 64");
    }

    @Test
    void aStateFromAQueueWithAnotherMaximumIsRefused() {
        refused(withQueue0(q -> sized(q, 256, q.size())), "virtqueue 0", "max_size is 256 in the state but 64 here");
    }

    @Test
    void indexesBeyondSixteenBitsAreRefused() {
        refused(withQueue0(q -> new VirtqueueState(q.maxSize(), q.size(), q.ready(), q.descTable(), q.driverArea(),
            q.deviceArea(), q.msixVector(), q.active(), 0x10000, q.nextUsed(), q.signalledUsed(), q.usedSinceSignal())),
            "virtqueue 0", "next_avail");
    }

    @Test
    void aQueueInUseThatIsNotReadyIsRefused() {
        refused(withQueue0(q -> new VirtqueueState(q.maxSize(), q.size(), false, q.descTable(), q.driverArea(),
            q.deviceArea(), q.msixVector(), true, q.nextAvail(), q.nextUsed(), q.signalledUsed(), q.usedSinceSignal())),
            "virtqueue 0", "not ready");
    }

    @Test
    void aQueueNotInUseMayHoldAnyAddressAsTheDriverWroteIt() throws DeviceStateException {
        // Before DRIVER_OK the device has not looked at the rings; it checks them when it starts using them.
        VirtioMmioState s = withQueue0(q -> new VirtqueueState(q.maxSize(), q.size(), true, 1L << 50, 3, 5,
            q.msixVector(), false, 0, 0, 0, false));
        VirtioState v = s.virtio();
        VirtioMmioState notStarted = new VirtioMmioState(0, 0, 0, 0, new VirtioState(Virtio.STATUS_ACKNOWLEDGE
            | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK, v.driverFeatures(), false, false, null, 0, v.queues(),
            v.device()));
        fresh.restoreState(notStarted);
        assertEquals(notStarted, fresh.saveState());
    }

    @Test
    void featuresTheDeviceDoesNotOfferAreRefused() {
        VirtioMmioState s = running.mmio.saveState();
        VirtioState v = s.virtio();
        VirtioMmioState bad = new VirtioMmioState(0, 0, 0, 0, new VirtioState(v.status(), v.driverFeatures() | 1L << 40,
            v.activated(), false, null, 0, v.queues(), v.device()));
        refused(bad, "virtio-rng", "features", "does not offer");
    }

    @Test
    void aStateOfAnotherDeviceTypeIsRefused() {
        VirtioMmioState s = running.mmio.saveState();
        VirtioState v = s.virtio();
        VirtioMmioState blk = new VirtioMmioState(0, 0, 0, 0, new VirtioState(v.status(), v.driverFeatures(),
            v.activated(), false, null, 0, v.queues(), new VirtioBlkState(2048, false)));
        DeviceStateException e = assertThrows(DeviceStateException.class, () -> fresh.restoreState(blk));
        assertTrue(e.getMessage().contains("expected a VirtioRngState, got a VirtioBlkState"), e.getMessage());
    }
}
