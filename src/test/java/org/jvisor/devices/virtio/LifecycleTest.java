package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/** Device status lifecycle and feature negotiation through the virtio-mmio registers, as Linux does it. */
class LifecycleTest {
    Driver drv;
    FakeDevice dev = new FakeDevice();

    /** A device with two queues, a 4-byte config that can change, and a feature bit 0. */
    static final class FakeDevice implements VirtioDevice {
        int activations;
        int resets;
        long negotiated;
        int config = 0x11223344;
        VirtioInterrupt interrupt;

        @Override
        public int deviceType() {
            return 3;
        }

        @Override
        public String name() {
            return "fake";
        }

        @Override
        public long deviceFeatures() {
            return Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(0) | Virtio.bit(Virtio.F_RING_EVENT_IDX);
        }

        @Override
        public int queueCount() {
            return 2;
        }

        @Override
        public int queueMaxSize(int queue) {
            return queue == 0 ? 128 : 16;
        }

        @Override
        public int configSize() {
            return 4;
        }

        @Override
        public long readConfig(int offset, int size) {
            return (config >>> (8 * offset)) & ((1L << (8 * size)) - 1);
        }

        @Override
        public void writeConfig(int offset, int size, long value) {
        }

        @Override
        public void activate(SplitVirtqueue[] queues, long features, VirtioInterrupt interrupt) {
            activations++;
            negotiated = features;
            this.interrupt = interrupt;
        }

        @Override
        public void processQueue(int queue) {
        }

        @Override
        public void reset() {
            resets++;
        }

        /** The fake's only state: its configuration word. */
        record State(int config) implements DeviceState {
            @Override
            public int version() {
                return 1;
            }
        }

        @Override
        public DeviceState saveState() {
            return new State(config);
        }

        @Override
        public void restoreState(DeviceState state) throws DeviceStateException {
            if (!(state instanceof State s)) {
                throw DeviceStateException.wrongKind(name(), State.class, state);
            }
            config = s.config();
        }

        void changeConfig(int v) {
            config = v;
            interrupt.configChanged();
        }
    }

    @AfterEach
    void tearDown() {
        drv.close();
    }

    @Test
    void linuxProbeSequence() {
        drv = new Driver(dev, 16);
        assertEquals(VirtioMmioTransport.MAGIC, drv.r(VirtioMmioTransport.MAGIC_VALUE));
        assertEquals(0x74726976, drv.r(VirtioMmioTransport.MAGIC_VALUE), "\"virt\"");
        assertEquals(3, drv.r(VirtioMmioTransport.DEVICE_ID));
        int st = drv.negotiate(-1L);
        assertEquals(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK, st);
        assertEquals(dev.deviceFeatures(), drv.mmio.core().driverFeatures());
        // queue 0, 1 exist with their maxima; 2 does not
        drv.w(VirtioMmioTransport.QUEUE_SEL, 0);
        assertEquals(128, drv.r(VirtioMmioTransport.QUEUE_NUM_MAX));
        drv.w(VirtioMmioTransport.QUEUE_SEL, 1);
        assertEquals(16, drv.r(VirtioMmioTransport.QUEUE_NUM_MAX));
        drv.w(VirtioMmioTransport.QUEUE_SEL, 2);
        assertEquals(0, drv.r(VirtioMmioTransport.QUEUE_NUM_MAX));
        drv.setupQueue(0);
        assertEquals(1, drv.r(VirtioMmioTransport.QUEUE_READY));
        assertEquals((int) Driver.DESC, drv.r(VirtioMmioTransport.QUEUE_DESC_LOW));
        assertEquals((int) Driver.USED, drv.r(VirtioMmioTransport.QUEUE_DEVICE_LOW));
        assertEquals(0, dev.activations);
        drv.addStatus(Virtio.STATUS_DRIVER_OK);
        assertEquals(1, dev.activations);
        assertEquals(0x0F, drv.status());
        assertTrue(drv.mmio.core().queue(0).active());
        assertFalse(drv.mmio.core().queue(1).active(), "queue 1 was never made ready");
        // config space at 0x100, byte by byte and whole
        assertEquals(0x44, drv.mmio.read(0x100, 1));
        assertEquals(0x1122, drv.mmio.read(0x102, 2));
        assertEquals(0x11223344, drv.mmio.read(0x100, 4));
        assertEquals(0, drv.mmio.read(0x104, 4), "beyond the config space");
    }

    /**
     * Found by TransportFuzzTest: a guest refusing VERSION_1 (or breaking its rings) in a reset
     * loop wrote one host log line per round, without end. Ten are logged, then one saying so.
     */
    @Test
    void guestErrorsInALoopDoNotFloodTheLog() {
        drv = new Driver(dev, 16);
        for (int i = 0; i < 1000; i++) {
            drv.w(VirtioMmioTransport.STATUS, 0);
            drv.addStatus(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
            drv.writeDriverFeatures(0);
            drv.addStatus(Virtio.STATUS_FEATURES_OK);
            drv.addStatus(Virtio.STATUS_DRIVER_OK);
        }
        assertEquals(VirtioCore.LOGGED_GUEST_ERRORS + 1, drv.log.size(), drv.log.toString());
        assertTrue(drv.log.get(0).contains("VIRTIO_F_VERSION_1"), drv.log.toString());
        assertTrue(drv.log.getLast().contains("further guest errors are not logged"), drv.log.toString());
    }

    @Test
    void featuresNotOfferedAreRefused() {
        drv = new Driver(dev, 16);
        drv.w(VirtioMmioTransport.STATUS, 0);
        drv.addStatus(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        drv.writeDriverFeatures(Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(5));
        drv.addStatus(Virtio.STATUS_FEATURES_OK);
        assertEquals(0, drv.status() & Virtio.STATUS_FEATURES_OK, "FEATURES_OK stays clear");
        assertTrue(drv.log.get(0).contains("not offered"), drv.log.toString());
        // the driver gives up: FAILED
        drv.addStatus(Virtio.STATUS_FAILED);
        assertNotEquals(0, drv.status() & Virtio.STATUS_FAILED);
        assertEquals(0, dev.activations);
    }

    @Test
    void legacyDriverWithoutVersion1IsRefused() {
        drv = new Driver(dev, 16);
        int st = drv.negotiate(~Virtio.bit(Virtio.F_VERSION_1));
        assertEquals(0, st & Virtio.STATUS_FEATURES_OK);
    }

    @Test
    void featuresAreFrozenAfterFeaturesOk() {
        drv = new Driver(dev, 16);
        drv.negotiate(Virtio.bit(Virtio.F_VERSION_1));
        drv.writeDriverFeatures(dev.deviceFeatures());
        assertEquals(Virtio.bit(Virtio.F_VERSION_1), drv.mmio.core().driverFeatures());
    }

    @Test
    void resetByWritingZero() {
        drv = new Driver(dev, 16).start();
        dev.changeConfig(7);
        assertTrue(drv.irq.level);
        int resets = dev.resets;
        drv.w(VirtioMmioTransport.STATUS, 0);
        assertEquals(0, drv.status());
        assertEquals(resets + 1, dev.resets);
        assertFalse(drv.irq.level, "reset drops the pending interrupt");
        assertEquals(0, drv.r(VirtioMmioTransport.INTERRUPT_STATUS));
        drv.w(VirtioMmioTransport.QUEUE_SEL, 0);
        assertEquals(0, drv.r(VirtioMmioTransport.QUEUE_READY));
        assertEquals(0, drv.r(VirtioMmioTransport.QUEUE_DESC_LOW));
        assertEquals(0, drv.mmio.core().driverFeatures());
        // and it comes up again
        drv.start();
        assertEquals(2, dev.activations);
    }

    @Test
    void queueConfigIsLockedWhileReady() {
        drv = new Driver(dev, 16).start();
        drv.w(VirtioMmioTransport.QUEUE_SEL, 0);
        drv.w(VirtioMmioTransport.QUEUE_DESC_LOW, 0x5000);
        assertEquals((int) Driver.DESC, drv.r(VirtioMmioTransport.QUEUE_DESC_LOW));
        // Linux's vm_del_vq: QueueReady = 0 and read back 0
        drv.w(VirtioMmioTransport.QUEUE_READY, 0);
        assertEquals(0, drv.r(VirtioMmioTransport.QUEUE_READY));
        assertFalse(drv.mmio.core().queue(0).active());
    }

    @Test
    void queueSizeMustBeAPowerOfTwoWithinTheMaximum() {
        drv = new Driver(dev, 16);
        drv.w(VirtioMmioTransport.QUEUE_SEL, 1);
        drv.w(VirtioMmioTransport.QUEUE_NUM, 8);
        assertEquals(8, drv.mmio.core().queue(1).size());
        drv.w(VirtioMmioTransport.QUEUE_NUM, 32);
        assertEquals(8, drv.mmio.core().queue(1).size());
        drv.w(VirtioMmioTransport.QUEUE_NUM, 12);
        assertEquals(8, drv.mmio.core().queue(1).size());
    }

    @Test
    void configGenerationAndConfigInterrupt() {
        drv = new Driver(dev, 16).start();
        int g = drv.r(VirtioMmioTransport.CONFIG_GENERATION);
        dev.changeConfig(0xCAFE);
        assertEquals(g + 1, drv.r(VirtioMmioTransport.CONFIG_GENERATION));
        assertEquals(0xCAFE, drv.mmio.read(0x100, 4));
        assertTrue(drv.irq.level);
        assertEquals(Virtio.INT_CONFIG, drv.ackInterrupt());
        assertFalse(drv.irq.level);
    }

    @Test
    void driverOkWithoutFeaturesOkNeedsReset() {
        drv = new Driver(dev, 16);
        drv.w(VirtioMmioTransport.STATUS, 0);
        drv.addStatus(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        drv.addStatus(Virtio.STATUS_DRIVER_OK);
        assertNotEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
        assertEquals(0, dev.activations);
    }

    @Test
    void narrowRegisterAccessesAreIgnored() {
        drv = new Driver(dev, 16);
        assertEquals(0, drv.mmio.read(VirtioMmioTransport.MAGIC_VALUE, 2));
        drv.mmio.write(VirtioMmioTransport.STATUS, 1, 1);
        assertEquals(0, drv.status());
    }
}
