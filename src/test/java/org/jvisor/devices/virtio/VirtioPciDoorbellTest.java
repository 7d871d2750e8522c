package org.jvisor.devices.virtio;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.pci.MsiSink;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.pci.PciHostBridge;
import org.jvisor.devices.pci.PciIrqRouting;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.Doorbells;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The notify doorbells of a virtio-pci function follow its transport BAR: armed (one per queue,
 * 2 bytes, value = queue index) where the firmware stand-in placed it, moved when the guest
 * reprograms the BAR, disarmed when decoding stops, re-armed after a bus reset re-places it.
 */
class VirtioPciDoorbellTest {
    private static final long MMIO64 = 0x1_0000_0000L;

    /** Records armed doorbells; "ringing" runs the armed Runnable. */
    static final class RecordingDoorbells implements Doorbells {
        record Armed(long address, int length, long value, Runnable ring) { }

        final List<Armed> armed = new ArrayList<>();

        @Override
        public Doorbell arm(long address, int length, long value, Runnable ring) {
            Armed a = new Armed(address, length, value, ring);
            armed.add(a);
            return () -> armed.remove(a);
        }

        List<Long> addresses() {
            return armed.stream().map(Armed::address).sorted().toList();
        }
    }

    @Test
    void doorbellsFollowTheTransportBar() {
        try (GuestMemory ram = GuestMemory.allocate(16L << 20)) {
            AddressSpace io = new AddressSpace("io", 0x10000);
            AddressSpace mmio = new AddressSpace("memory", 1L << 52);
            PciHostBridge bridge = new PciHostBridge(io, mmio, MsiSink.NONE, PciIrqRouting.swizzled(16), gsi -> level -> { });
            VirtioPciFunction fn = new VirtioPciFunction(new VirtioRng(), new IdentityDma(ram));
            RecordingDoorbells doorbells = new RecordingDoorbells();
            fn.useDoorbells(doorbells);
            bridge.add(1, fn);
            assertEquals(List.of(), doorbells.addresses(), "nothing decodes before the BAR is placed");

            bridge.assignResources(PciHostBridge.Windows.pc(0xE000_0000L, MMIO64, 32L << 30));
            long bar = fn.barAddress(4);
            int queues = fn.transport().core().queueCount();
            assertEquals(1, queues);
            assertEquals(List.of(bar + fn.transport().notifyOffset(0)), doorbells.addresses());
            assertEquals(2, doorbells.armed.get(0).length());
            assertEquals(0, doorbells.armed.get(0).value());

            // The guest moves the BAR: decoding off (disarmed), new address, decoding on (armed there).
            int cmd = fn.readConfig(PciDevice.COMMAND, 2);
            fn.writeConfig(PciDevice.COMMAND, 2, cmd & ~PciDevice.COMMAND_MEMORY);
            assertEquals(List.of(), doorbells.addresses());
            fn.writeConfig(PciDevice.BAR0 + 16, 4, 0x8000_0000);
            fn.writeConfig(PciDevice.BAR0 + 20, 4, 0);
            fn.writeConfig(PciDevice.COMMAND, 2, cmd);
            assertEquals(List.of(0x8000_0000L + VirtioPciTransport.NOTIFY_OFFSET), doorbells.addresses());

            // A bus reset stops decoding and the firmware stand-in places the BAR again.
            bridge.reset();
            assertEquals(List.of(bar + fn.transport().notifyOffset(0)), doorbells.addresses());
        }
    }
}
