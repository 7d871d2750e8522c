package org.jvisor.devices.virtio;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.devices.pci.MsiSink;
import org.jvisor.devices.pci.MsixCapability;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.pci.PciHostBridge;
import org.jvisor.devices.pci.PciIrqRouting;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;
import org.jvisor.memory.MsiIrqfds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The call eventfds of a device whose queues another process serves follow the guest's MSI-X
 * programming (QueueIrqfds): bound to a vector's message only while MSI-X is enabled, the function
 * and the vector unmasked, bus mastering on and the queue has that vector; moved when the message
 * or the queue's vector changes; unbound (the device relays, and a masked vector's completion
 * sets its pending bit) otherwise, and at reset and close.
 */
class VirtioPciIrqfdTest {
    private static final long MMIO64 = 0x1_0000_0000L;
    private static final int CALL0 = 1000;
    private static final int CALL1 = 1001;

    /** Two queues served elsewhere: call descriptors CALL0/CALL1; records where their interrupts are raised. */
    static final class ServedElsewhere implements VirtioDevice {
        final Map<Integer, Boolean> inKernel = new HashMap<>();
        VirtioInterrupt interrupt;

        @Override public int deviceType() { return 2; }
        @Override public String name() { return "served-elsewhere"; }
        @Override public long deviceFeatures() { return 1L << Virtio.F_VERSION_1; }
        @Override public int queueCount() { return 2; }
        @Override public int queueMaxSize(int queue) { return 8; }
        @Override public int configSize() { return 0; }
        @Override public long readConfig(int offset, int size) { return 0; }
        @Override public void writeConfig(int offset, int size, long value) { }
        @Override public void activate(SplitVirtqueue[] queues, long features, VirtioInterrupt interrupt) { this.interrupt = interrupt; }
        @Override public void processQueue(int queue) { }
        @Override public void reset() { }
        @Override public DeviceState saveState() { return null; }
        @Override public void restoreState(DeviceState state) { }
        @Override public int queueCallDescriptor(int queue) { return CALL0 + queue; }
        @Override public void queueCallInKernel(int queue, boolean k) { inKernel.put(queue, k); }
    }

    /** Records bindings as "fd->address/data". */
    static final class RecordingIrqfds implements MsiIrqfds {
        final List<String> bound = new ArrayList<>();
        int made;
        boolean full;

        @Override
        public Binding bind(int eventFd, long address, int data) {
            if (full) {
                throw new IllegalStateException("no MSI route left");
            }
            String b = eventFd + "->" + Long.toHexString(address) + "/" + Integer.toHexString(data);
            bound.add(b);
            made++;
            return () -> bound.remove(b);
        }
    }

    private GuestMemory ram;
    private AddressSpace mmio;
    private ServedElsewhere device;
    private RecordingIrqfds irqfds;
    private VirtioPciFunction fn;
    private final List<String> sent = new ArrayList<>();
    private int msixCap;

    @BeforeEach
    void setUp() {
        ram = GuestMemory.allocate(16L << 20);
        AddressSpace io = new AddressSpace("io", 0x10000);
        mmio = new AddressSpace("memory", 1L << 52);
        MsiSink sink = (address, data) -> sent.add(Long.toHexString(address) + "/" + Integer.toHexString(data));
        PciHostBridge bridge = new PciHostBridge(io, mmio, sink, PciIrqRouting.swizzled(16), gsi -> level -> { });
        device = new ServedElsewhere();
        fn = new VirtioPciFunction(device, new IdentityDma(ram));
        irqfds = new RecordingIrqfds();
        fn.useIrqfds(irqfds);
        bridge.add(1, fn);
        bridge.assignResources(PciHostBridge.Windows.pc(0xE000_0000L, MMIO64, 32L << 30));
        fn.writeConfig(PciDevice.COMMAND, 2, fn.readConfig(PciDevice.COMMAND, 2) | PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_BUS_MASTER);
        for (int p = fn.readConfig(0x34, 1) & 0xFC; p != 0; p = fn.readConfig(p + 1, 1) & 0xFC) {
            if (fn.readConfig(p, 1) == 0x11) {
                msixCap = p;
            }
        }
        assertTrue(msixCap != 0);
    }

    @AfterEach
    void tearDown() {
        ram.close();
    }

    private void entry(int vector, long address, int data, boolean masked) {
        long e = fn.barAddress(1) + 16L * vector;
        mmio.write(e, 4, address & 0xFFFF_FFFFL);
        mmio.write(e + 4, 4, address >>> 32);
        mmio.write(e + 8, 4, data);
        mmio.write(e + 12, 4, masked ? 1 : 0);
    }

    private void mask(int vector, boolean masked) {
        mmio.write(fn.barAddress(1) + 16L * vector + 12, 4, masked ? 1 : 0);
    }

    private void control(int set, int clear) {
        int c = fn.readConfig(msixCap + 2, 2);
        fn.writeConfig(msixCap + 2, 2, (c | set) & ~clear);
    }

    private void queueVector(int queue, int vector) {
        long common = fn.barAddress(4) + VirtioPciTransport.COMMON_OFFSET;
        mmio.write(common + VirtioPciTransport.QUEUE_SELECT, 2, queue);
        mmio.write(common + VirtioPciTransport.QUEUE_MSIX_VECTOR, 2, vector);
    }

    @Test
    void boundOnlyWhileTheVectorMaySend() {
        entry(0, 0xFEE0_0000L, 0x41, false);
        entry(1, 0xFEE0_0000L, 0x42, false);
        queueVector(0, 0);
        queueVector(1, 1);
        assertEquals(List.of(), irqfds.bound, "MSI-X not enabled yet");
        control(MsixCapability.CONTROL_ENABLE, 0);
        assertEquals(List.of(CALL0 + "->fee00000/41", CALL1 + "->fee00000/42"), irqfds.bound);
        assertEquals(Map.of(0, true, 1, true), device.inKernel);

        mask(1, true);
        assertEquals(List.of(CALL0 + "->fee00000/41"), irqfds.bound);
        assertEquals(false, device.inKernel.get(1));
        // The device relays queue 1 now (its completion sets the pending bit: VhostUserIrqfdGuestTest).
        mask(1, false);
        assertEquals(List.of(), sent, "nothing was pending");
        assertEquals(2, irqfds.bound.size());

        // A new message for vector 0 (changed while masked, as drivers do): the binding moves.
        mask(0, true);
        mmio.write(fn.barAddress(1) + 8, 4, 0x51);
        mask(0, false);
        assertTrue(irqfds.bound.contains(CALL0 + "->fee00000/51"), irqfds.bound.toString());
        assertEquals(2, irqfds.bound.size());

        // Function mask unbinds all; lifting it binds again.
        control(MsixCapability.CONTROL_FUNCTION_MASK, 0);
        assertEquals(List.of(), irqfds.bound);
        assertEquals(Map.of(0, false, 1, false), device.inKernel);
        control(0, MsixCapability.CONTROL_FUNCTION_MASK);
        assertEquals(2, irqfds.bound.size());

        // The queue moves to another vector, or to none.
        queueVector(1, 0);
        assertTrue(irqfds.bound.contains(CALL1 + "->fee00000/51"), irqfds.bound.toString());
        queueVector(1, 0xFFFF);
        assertEquals(List.of(CALL0 + "->fee00000/51"), irqfds.bound);

        // Bus mastering off: no MSI may be sent, so nothing stays bound.
        fn.writeConfig(PciDevice.COMMAND, 2, fn.readConfig(PciDevice.COMMAND, 2) & ~PciDevice.COMMAND_BUS_MASTER);
        assertEquals(List.of(), irqfds.bound);
        fn.writeConfig(PciDevice.COMMAND, 2, fn.readConfig(PciDevice.COMMAND, 2) | PciDevice.COMMAND_BUS_MASTER);
        assertEquals(1, irqfds.bound.size());

        // MSI-X off: ISR and INTx, which only the device can raise.
        control(0, MsixCapability.CONTROL_ENABLE);
        assertEquals(List.of(), irqfds.bound);
        assertEquals(false, device.inKernel.get(0));
    }

    @Test
    void aDeviceResetAndCloseUnbind() {
        entry(0, 0xFEE0_0000L, 0x41, false);
        queueVector(0, 0);
        control(MsixCapability.CONTROL_ENABLE, 0);
        assertEquals(1, irqfds.bound.size());
        // Status 0: the queues lose their vectors (virtio 1.2, 4.1.4.3).
        mmio.write(fn.barAddress(4) + VirtioPciTransport.COMMON_OFFSET + VirtioPciTransport.DEVICE_STATUS, 1, 0);
        assertEquals(List.of(), irqfds.bound);
        queueVector(0, 0);
        assertEquals(1, irqfds.bound.size());
        fn.releaseIrqfds();
        assertEquals(List.of(), irqfds.bound);
        assertEquals(false, device.inKernel.get(0));
        queueVector(0, 0);
        assertEquals(List.of(), irqfds.bound, "closed: nothing is bound again");
    }

    @Test
    void noRouteLeftKeepsTheRelay() {
        irqfds.full = true;
        entry(0, 0xFEE0_0000L, 0x41, false);
        queueVector(0, 0);
        control(MsixCapability.CONTROL_ENABLE, 0);
        assertEquals(List.of(), irqfds.bound);
        assertEquals(false, device.inKernel.get(0));
        irqfds.full = false;
        mask(0, true);
        mask(0, false);
        assertEquals(1, irqfds.bound.size(), "the next change tries again");
        assertEquals(true, device.inKernel.get(0));
    }
}
