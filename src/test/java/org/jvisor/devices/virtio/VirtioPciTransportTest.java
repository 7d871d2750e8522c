package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.jvisor.memory.IdentityDma;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Modern virtio-pci: the capabilities, common configuration, notify, ISR and MSI-X, as virtio_pci_modern drives them. */
class VirtioPciTransportTest {
    static final int T = VirtioPciTransport.COMMON_OFFSET;
    final GuestMemory ram = GuestMemory.allocate(2L << 20);
    final List<Integer> vectors = new ArrayList<>();
    boolean msixEnabled = true;
    boolean intx;
    final MsixVectors msix = new MsixVectors() {
        @Override
        public void notify(int vector) {
            vectors.add(vector);
        }

        @Override
        public boolean enabled() {
            return msixEnabled;
        }
    };
    final VirtioPciTransport pci = new VirtioPciTransport(new VirtioRng(), new IdentityDma(ram), 4, msix,
        level -> intx = level, msg -> { });
    final BusDevice bar = pci.bar();

    @AfterEach
    void tearDown() {
        ram.close();
    }

    long r(int off, int size) {
        return bar.read(off, size);
    }

    void w(int off, int size, long v) {
        bar.write(off, size, v);
    }

    void bringUp() {
        w(VirtioPciTransport.DEVICE_STATUS, 1, 0);
        assertEquals(0, r(VirtioPciTransport.DEVICE_STATUS, 1));
        w(VirtioPciTransport.DEVICE_STATUS, 1, Virtio.STATUS_ACKNOWLEDGE);
        w(VirtioPciTransport.DEVICE_STATUS, 1, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        w(VirtioPciTransport.DEVICE_FEATURE_SELECT, 4, 0);
        long lo = r(VirtioPciTransport.DEVICE_FEATURE, 4);
        w(VirtioPciTransport.DEVICE_FEATURE_SELECT, 4, 1);
        long hi = r(VirtioPciTransport.DEVICE_FEATURE, 4);
        long f = lo | hi << 32;
        assertTrue(Virtio.has(f, Virtio.F_VERSION_1));
        w(VirtioPciTransport.DRIVER_FEATURE_SELECT, 4, 0);
        w(VirtioPciTransport.DRIVER_FEATURE, 4, f & 0xFFFF_FFFFL);
        w(VirtioPciTransport.DRIVER_FEATURE_SELECT, 4, 1);
        w(VirtioPciTransport.DRIVER_FEATURE, 4, f >>> 32);
        w(VirtioPciTransport.DEVICE_STATUS, 1, 0x0B);
        assertEquals(0x0B, r(VirtioPciTransport.DEVICE_STATUS, 1));
        w(VirtioPciTransport.CONFIG_MSIX_VECTOR, 2, 0);
        assertEquals(0, r(VirtioPciTransport.CONFIG_MSIX_VECTOR, 2));
        assertEquals(1, r(VirtioPciTransport.NUM_QUEUES, 2));
        w(VirtioPciTransport.QUEUE_SELECT, 2, 0);
        assertEquals(VirtioRng.QUEUE_SIZE, r(VirtioPciTransport.QUEUE_SIZE, 2));
        w(VirtioPciTransport.QUEUE_SIZE, 2, 8);
        w(VirtioPciTransport.QUEUE_MSIX_VECTOR, 2, 1);
        assertEquals(1, r(VirtioPciTransport.QUEUE_MSIX_VECTOR, 2));
        // 64-bit fields written as two halves (vp_iowrite64_twopart)
        w(VirtioPciTransport.QUEUE_DESC, 4, Driver.DESC);
        w(VirtioPciTransport.QUEUE_DESC + 4, 4, 0);
        w(VirtioPciTransport.QUEUE_DRIVER, 4, Driver.AVAIL);
        w(VirtioPciTransport.QUEUE_DRIVER + 4, 4, 0);
        w(VirtioPciTransport.QUEUE_DEVICE, 4, Driver.USED);
        w(VirtioPciTransport.QUEUE_DEVICE + 4, 4, 0);
        assertEquals(0, r(VirtioPciTransport.QUEUE_NOTIFY_OFF, 2));
        w(VirtioPciTransport.QUEUE_ENABLE, 2, 1);
        assertEquals(1, r(VirtioPciTransport.QUEUE_ENABLE, 2));
        w(VirtioPciTransport.DEVICE_STATUS, 1, 0x0F);
        assertEquals(0x0F, r(VirtioPciTransport.DEVICE_STATUS, 1));
    }

    void request() {
        int n = ram.readU16(Driver.AVAIL + 2);
        ram.writeU64(Driver.DESC, Driver.DATA);
        ram.writeU32(Driver.DESC + 8, 16);
        ram.writeU16(Driver.DESC + 12, (short) SplitVirtqueue.DESC_F_WRITE);
        ram.writeU16(Driver.AVAIL + 4 + 2L * (n % 8), (short) 0);
        ram.writeU16(Driver.AVAIL + 2, (short) (n + 1));
        ram.writeU16(Driver.AVAIL + 4 + 2 * 8, (short) n); // used_event: interrupt for this one
        w(pci.notifyOffset(0), 2, 0);
    }

    @Test
    void identityAndCapabilities() {
        assertEquals(0x1044, pci.pciDeviceId());
        assertEquals(0x1AF4, VirtioPciTransport.PCI_VENDOR_ID);
        assertEquals(2, pci.msixVectorCount());
        List<VirtioPciCapability> caps = pci.capabilities();
        assertEquals(5, caps.size());
        assertEquals(List.of(1, 3, 4, 2, 5), caps.stream().map(VirtioPciCapability::cfgType).toList());
        VirtioPciCapability notify = caps.stream().filter(c -> c.cfgType() == VirtioPciCapability.NOTIFY).findFirst().orElseThrow();
        assertArrayEquals(new byte[] {0x09, 0, 20, 2, 4, 0, 0, 0, 0, 0x30, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0}, notify.bytes());
        VirtioPciCapability common = caps.get(0);
        assertEquals(VirtioPciCapability.COMMON, common.cfgType());
        assertArrayEquals(new byte[] {0x09, 0, 16, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0x3C, 0, 0, 0}, common.bytes());
        assertEquals(20, caps.get(4).bytes().length);
    }

    @Test
    void queueInterruptsGoToTheirMsixVector() {
        bringUp();
        request();
        assertEquals(1, ram.readU16(Driver.USED + 2));
        assertEquals(List.of(1), vectors);
        assertFalse(intx);
        assertEquals(0, pci.readIsr() & Virtio.INT_VRING, "ISR queue bit unused with MSI-X");
    }

    @Test
    void withoutMsixTheIsrAndIntxAreUsed() {
        msixEnabled = false;
        bringUp();
        request();
        assertTrue(intx);
        assertEquals(Virtio.INT_VRING, r(VirtioPciTransport.ISR_OFFSET, 1));
        assertFalse(intx, "reading the ISR lowers INTx");
        assertEquals(0, r(VirtioPciTransport.ISR_OFFSET, 1));
    }

    @Test
    void vectorsBeyondTheTableReadBackAsNoVector() {
        w(VirtioPciTransport.CONFIG_MSIX_VECTOR, 2, 7);
        assertEquals(VirtioPciTransport.NO_VECTOR, r(VirtioPciTransport.CONFIG_MSIX_VECTOR, 2));
        w(VirtioPciTransport.QUEUE_MSIX_VECTOR, 2, 2);
        assertEquals(VirtioPciTransport.NO_VECTOR, r(VirtioPciTransport.QUEUE_MSIX_VECTOR, 2));
    }

    @Test
    void needsResetSendsAConfigInterrupt() {
        bringUp();
        ram.writeU16(Driver.AVAIL + 2, (short) 1);
        ram.writeU16(Driver.AVAIL + 4, (short) 40); // head beyond the queue size
        w(pci.notifyOffset(0), 2, 0);
        assertEquals(0x4F, r(VirtioPciTransport.DEVICE_STATUS, 1));
        assertEquals(List.of(0), vectors, "config vector");
        assertEquals(Virtio.INT_CONFIG, pci.readIsr());
        w(VirtioPciTransport.DEVICE_STATUS, 1, 0);
        assertEquals(0, r(VirtioPciTransport.DEVICE_STATUS, 1));
        assertEquals(VirtioPciTransport.NO_VECTOR, r(VirtioPciTransport.CONFIG_MSIX_VECTOR, 2));
    }

    @Test
    void pciCfgWindowReachesTheBar() {
        assertEquals(1, pci.pciCfgDataRead(4, VirtioPciTransport.NUM_QUEUES, 2));
        pci.pciCfgDataWrite(4, VirtioPciTransport.DEVICE_STATUS, 1, Virtio.STATUS_ACKNOWLEDGE);
        assertEquals(Virtio.STATUS_ACKNOWLEDGE, r(VirtioPciTransport.DEVICE_STATUS, 1));
        assertEquals(0, pci.pciCfgDataRead(2, VirtioPciTransport.NUM_QUEUES, 2), "another BAR");
    }

    @Test
    void sixtyFourBitAccessToQueueAddresses() {
        w(VirtioPciTransport.QUEUE_DESC, 8, 0x1_2345_6000L);
        assertEquals(0x1_2345_6000L, r(VirtioPciTransport.QUEUE_DESC, 8));
        assertEquals(0x2345_6000L, r(VirtioPciTransport.QUEUE_DESC, 4));
        assertEquals(1, r(VirtioPciTransport.QUEUE_DESC + 4, 4));
    }
}
