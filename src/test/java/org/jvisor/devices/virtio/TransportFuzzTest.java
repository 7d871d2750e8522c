package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.config.MacAddress;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;
import org.jvisor.memory.IrqLine;
import org.jvisor.testing.RegisterFuzz;

/**
 * Fuzzes the virtio transports' registers in any order: a byte stream read as (offset, size,
 * value, read/write) operations on the virtio-mmio window or the virtio-pci transport BAR,
 * mixed with guest RAM stores (rings anywhere the guest points them) and queue notifications, on
 * a device the fuzzer picks. Whatever the order (DRIVER_OK before FEATURES_OK, queues enabled
 * with rings outside RAM, sizes that are no power of two, selectors far out of range), nothing
 * escapes the access, a read holds no bits beyond its size, NEEDS_RESET comes only for the
 * device's own reasons, the host log takes a bounded number of lines (the core's guest errors
 * and a device's own few), and a status write of 0 resets the device.
 */
class TransportFuzzTest {
    private static final int[] MMIO_REGISTERS = {
        VirtioMmioTransport.MAGIC_VALUE, VirtioMmioTransport.DEVICE_FEATURES, VirtioMmioTransport.DEVICE_FEATURES_SEL,
        VirtioMmioTransport.DRIVER_FEATURES, VirtioMmioTransport.DRIVER_FEATURES_SEL, VirtioMmioTransport.QUEUE_SEL,
        VirtioMmioTransport.QUEUE_NUM_MAX, VirtioMmioTransport.QUEUE_NUM, VirtioMmioTransport.QUEUE_READY,
        VirtioMmioTransport.QUEUE_NOTIFY, VirtioMmioTransport.INTERRUPT_STATUS, VirtioMmioTransport.INTERRUPT_ACK,
        VirtioMmioTransport.STATUS, VirtioMmioTransport.QUEUE_DESC_LOW, VirtioMmioTransport.QUEUE_DESC_HIGH,
        VirtioMmioTransport.QUEUE_DRIVER_LOW, VirtioMmioTransport.QUEUE_DRIVER_HIGH, VirtioMmioTransport.QUEUE_DEVICE_LOW,
        VirtioMmioTransport.QUEUE_DEVICE_HIGH, VirtioMmioTransport.SHM_SEL, VirtioMmioTransport.QUEUE_RESET,
        VirtioMmioTransport.CONFIG_GENERATION, VirtioMmioTransport.CONFIG, VirtioMmioTransport.CONFIG + 4,
        VirtioMmioTransport.CONFIG + 8, VirtioMmioTransport.CONFIG + 0x38,
    };

    private static final int[] PCI_REGISTERS = {
        VirtioPciTransport.DEVICE_FEATURE_SELECT, VirtioPciTransport.DEVICE_FEATURE,
        VirtioPciTransport.DRIVER_FEATURE_SELECT, VirtioPciTransport.DRIVER_FEATURE, VirtioPciTransport.CONFIG_MSIX_VECTOR,
        VirtioPciTransport.NUM_QUEUES, VirtioPciTransport.DEVICE_STATUS, VirtioPciTransport.CONFIG_GENERATION,
        VirtioPciTransport.QUEUE_SELECT, VirtioPciTransport.QUEUE_SIZE, VirtioPciTransport.QUEUE_MSIX_VECTOR,
        VirtioPciTransport.QUEUE_ENABLE, VirtioPciTransport.QUEUE_NOTIFY_OFF, VirtioPciTransport.QUEUE_DESC,
        VirtioPciTransport.QUEUE_DESC + 4, VirtioPciTransport.QUEUE_DRIVER, VirtioPciTransport.QUEUE_DRIVER + 4,
        VirtioPciTransport.QUEUE_DEVICE, VirtioPciTransport.QUEUE_DEVICE + 4, VirtioPciTransport.QUEUE_NOTIFY_DATA,
        VirtioPciTransport.QUEUE_RESET, VirtioPciTransport.ISR_OFFSET, VirtioPciTransport.DEVICE_OFFSET,
        VirtioPciTransport.DEVICE_OFFSET + 8, VirtioPciTransport.NOTIFY_OFFSET, VirtioPciTransport.NOTIFY_OFFSET + 4,
        VirtioPciTransport.NOTIFY_OFFSET + 8,
    };

    /** A device the fuzzer picks, on in-memory backends. */
    static VirtioDevice device(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 3)) {
            case 0 -> new VirtioRng();
            case 1 -> new VirtioBlk(new org.jvisor.testing.BoundedDisk(8 * VirtioBlk.SECTOR, data.consumeBoolean()), "fuzz", 16, msg -> { });
            case 2 -> new VirtioNet(new FakeNetBackend(), MacAddress.parse("52:54:00:12:34:56"), 16, msg -> { });
            default -> new VirtioConsole(2, List.of(new VirtioConsole.PortSpec(0, null, true,
                new VirtioConsoleFuzzTest.FuzzChar())), msg -> { });
        };
    }

    /** A store of fuzzer bytes into the first 128 KiB of RAM, where rings are likely placed. */
    static void ramStore(FuzzedDataProvider data, GuestMemory ram) {
        int at = data.consumeInt(0, 0x20000 - 64);
        ram.write(at, data.consumeBytes(64));
    }

    static void checkCore(VirtioCore core) {
        if (core.isNeedsReset()) {
            assertFalse(core.needsResetReason().contains("device model failed"), core.needsResetReason());
        }
    }

    @FuzzTest(maxDuration = "60s")
    void mmioRegisters(FuzzedDataProvider data) {
        try (GuestMemory ram = GuestMemory.allocate(GuestMemory.MIN_SIZE)) {
            int[] logged = new int[1];
            VirtioMmioTransport mmio = new VirtioMmioTransport(device(data), new IdentityDma(ram), IrqLine.NONE,
                msg -> logged[0]++);
            for (int i = 0; i < 64 && data.remainingBytes() > 0; i++) {
                switch (data.consumeInt(0, 7)) {
                    case 0 -> ramStore(data, ram);
                    case 1 -> mmio.write(VirtioMmioTransport.QUEUE_NOTIFY, 4, data.consumeInt(0, 8));
                    default -> RegisterFuzz.access(data, mmio, VirtioMmioTransport.WINDOW_SIZE, MMIO_REGISTERS);
                }
                checkCore(mmio.core());
                // a guest cannot make the host log without end (it could loop on this forever)
                assertTrue(logged[0] <= VirtioCore.LOGGED_GUEST_ERRORS + 1 + 10, logged[0] + " log lines");
            }
            mmio.write(VirtioMmioTransport.STATUS, 4, 0);
            assertTrue(mmio.read(VirtioMmioTransport.STATUS, 4) == 0, "status 0 resets the device");
            assertFalse(mmio.core().isNeedsReset());
        }
    }

    @FuzzTest(maxDuration = "60s")
    void pciRegisters(FuzzedDataProvider data) {
        try (GuestMemory ram = GuestMemory.allocate(GuestMemory.MIN_SIZE)) {
            int[] logged = new int[1];
            VirtioPciFunction fn = new VirtioPciFunction(device(data), new IdentityDma(ram), msg -> logged[0]++);
            BusDevice bar = fn.transport().bar();
            for (int i = 0; i < 64 && data.remainingBytes() > 0; i++) {
                switch (data.consumeInt(0, 9)) {
                    case 0 -> ramStore(data, ram);
                    case 1 -> bar.write(VirtioPciTransport.NOTIFY_OFFSET + 4L * data.consumeInt(0, 8), 2, 0);
                    case 2 -> {
                        int off = data.consumeInt(0, 0xFF);
                        int size = 1 << data.consumeInt(0, 2);
                        if (data.consumeBoolean()) {
                            fn.writeConfig(off, size, (int) RegisterFuzz.value(data, size));
                        } else {
                            fn.readConfig(off, size);
                        }
                    }
                    default -> RegisterFuzz.access(data, bar, VirtioPciTransport.BAR_SIZE, PCI_REGISTERS);
                }
                checkCore(fn.transport().core());
                // the finding of 391ffc0: a reset loop refusing VERSION_1 logged a line per round
                assertTrue(logged[0] <= VirtioCore.LOGGED_GUEST_ERRORS + 1 + 10, logged[0] + " log lines");
            }
            bar.write(VirtioPciTransport.DEVICE_STATUS, 1, 0);
            assertTrue(bar.read(VirtioPciTransport.DEVICE_STATUS, 1) == 0, "status 0 resets the device");
            assertFalse(fn.transport().core().isNeedsReset());
        }
    }
}
