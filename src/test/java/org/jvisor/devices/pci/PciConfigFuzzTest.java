package org.jvisor.devices.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.devices.virtio.VirtioPciFunction;
import org.jvisor.devices.virtio.VirtioRng;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;
import org.jvisor.testing.RegisterFuzz;

/**
 * Fuzzes PCI configuration space and MSI-X tables as a guest reaches them: configuration
 * mechanism #1 (0xCF8/0xCFC, any size and byte lane), ECAM, and the memory BARs the guest itself
 * places (anywhere, overlapping each other or nothing) and enables, including the MSI-X table
 * and PBA of a virtio-pci function and of a function with MSI and MSI-X. Nothing may escape an
 * access, a read holds no bits beyond its size, every MSI goes out only while MSI or MSI-X is
 * enabled, and after the bus reset every BAR is unmapped again.
 */
class PciConfigFuzzTest {
    private static final long ECAM = 0xE000_0000L;
    private static final long WINDOW = 0xC000_0000L;

    @FuzzTest(maxDuration = "60s")
    void configSpace(FuzzedDataProvider data) {
        try (GuestMemory ram = GuestMemory.allocate(GuestMemory.MIN_SIZE)) {
            AddressSpace io = new AddressSpace("io", 0x10000);
            AddressSpace memory = new AddressSpace("memory", 1L << 40);
            int[] msis = new int[1];
            PciHostBridge bridge = new PciHostBridge(io, memory, (address, value) -> msis[0]++,
                PciIrqRouting.swizzled(16), gsi -> level -> { });
            bridge.registerPorts(new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    return 0;
                }

                @Override
                public void write(long offset, int size, long value) {
                }
            });
            bridge.registerEcam(ECAM, 1);
            VirtioPciFunction virtio = new VirtioPciFunction(new VirtioRng(), new IdentityDma(ram));
            bridge.add(3, virtio);
            TestFunction fn = new TestFunction(0x1234, 0x11E8, 0xFF0000);
            MsiCapability msi = fn.cap(new MsiCapability(4, true));
            MsixCapability msix = fn.cap(new MsixCapability(8, 2, 0));
            fn.bar(0, PciBarRegion.memory32("regs", 0x1000, false, new Registers()));
            fn.bar(1, PciBarRegion.io("ports", 0x20, new Registers()));
            fn.bar(2, PciBarRegion.memory32("msix", msix.minimumBarSize(), false, msix.barDevice()));
            fn.pin(1);
            bridge.add(4, fn);
            int[] regs = {0x00, 0x04, 0x06, 0x10, 0x14, 0x18, 0x1C, 0x20, 0x24, 0x30, 0x34, 0x3C, 0x40, 0x44, 0x48, 0x4C,
                0x50, 0x54, 0x58, 0x5C, 0x60, 0x64, 0x68, 0x6C, 0x70, 0x74, 0x78, 0x7C, 0x80, 0x84, 0x88};
            for (int i = 0; i < 96 && data.remainingBytes() > 0; i++) {
                int slot = data.consumeBoolean() ? 3 : data.consumeInt(0, 5);
                int reg = (int) RegisterFuzz.offset(data, data.consumeInt(0, 7) == 0 ? 0x1000 : 0x100, regs);
                switch (data.consumeInt(0, 5)) {
                    case 0 -> {
                        // mechanism #1: address, then a data access on any byte lane
                        io.write(PciHostBridge.CONFIG_ADDRESS_PORT, 4,
                            (PciHostBridge.CONFIG_ENABLE | slot << 11 | (reg & 0xFC)) & 0xFFFF_FFFFL);
                        int size = 1 << data.consumeInt(0, 2);
                        int lane = data.consumeInt(0, 3);
                        if (data.consumeBoolean()) {
                            io.write(PciHostBridge.CONFIG_DATA_PORT + lane, size, RegisterFuzz.value(data, size));
                        } else {
                            RegisterFuzz.read(bus(io), PciHostBridge.CONFIG_DATA_PORT + lane, size);
                        }
                    }
                    case 1 -> {
                        long at = ECAM + ((long) slot << 15) + reg;
                        int size = 1 << data.consumeInt(0, 3);
                        if (data.consumeBoolean()) {
                            memory.write(at, size, RegisterFuzz.value(data, size));
                        } else {
                            RegisterFuzz.read(bus(memory), at, size);
                        }
                    }
                    case 2 -> {
                        // a BAR placed where the guest likes, then decoding on
                        PciDevice d = data.consumeBoolean() ? virtio : fn;
                        int bar = data.consumeInt(0, 5);
                        long addr = data.consumeBoolean() ? WINDOW + 0x1000L * data.consumeInt(0, 64) : data.consumeLong();
                        d.writeConfig(PciDevice.BAR0 + 4 * bar, 4, (int) addr);
                        d.writeConfig(PciDevice.COMMAND, 2, data.consumeInt(0, 0xFFFF));
                    }
                    case 3 -> {
                        // MSI-X on (and maybe function-masked), MSI on
                        PciDevice d = data.consumeBoolean() ? virtio : fn;
                        for (PciCapability c : d.capabilities()) {
                            d.writeConfig(c.offset() + 2, 2, data.consumeInt(0, 0xFFFF));
                        }
                    }
                    default -> {
                        long at = data.consumeBoolean() ? WINDOW + data.consumeLong(0, 0x41000) : 0xC000 + data.consumeInt(0, 0x3FFF);
                        AddressSpace space = at < 0x10000 ? io : memory;
                        int size = RegisterFuzz.size(data);
                        if (data.consumeBoolean()) {
                            space.write(at, size, RegisterFuzz.value(data, size));
                        } else {
                            RegisterFuzz.read(bus(space), at, size);
                        }
                    }
                }
                // a notification from the device side: MSI-X or MSI only when enabled
                int before = msis[0];
                msix.notify(data.consumeInt(0, 9));
                msi.notify(data.consumeInt(0, 4));
                if (!msix.isEnabled() && !msi.isEnabled()) {
                    assertEquals(before, msis[0], "MSI sent while MSI and MSI-X are off");
                }
            }
            for (PciDevice d : bridge.devices()) {
                d.reset();
                for (int b = 0; b < PciDevice.BAR_COUNT; b++) {
                    assertTrue(d.bar(b) == null || d.bar(b).mappedAddress() < 0, "BAR " + b + " still mapped after reset");
                }
            }
        }
    }

    /** A BAR's registers: 64 bytes that read back what was written, at any size. */
    static final class Registers implements BusDevice {
        private final byte[] bytes = new byte[64];

        @Override
        public long read(long offset, int size) {
            long v = 0;
            for (int i = size - 1; i >= 0; i--) {
                v = v << 8 | bytes[(int) (offset + i) & 63] & 0xFF;
            }
            return v;
        }

        @Override
        public void write(long offset, int size, long value) {
            for (int i = 0; i < size; i++) {
                bytes[(int) (offset + i) & 63] = (byte) (value >>> (8 * i));
            }
        }
    }

    /** An address space as a bus device (the accesses the CPU makes); ChipsetFuzzTest's too. */
    static BusDevice bus(AddressSpace space) {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return space.read(offset, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                space.write(offset, size, value);
            }
        };
    }
}
