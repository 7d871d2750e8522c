package org.jvisor.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;

import org.jvisor.memory.BusDevice;

/**
 * Register accesses a fuzzer chooses, as a guest's loads and stores would reach a device: a byte
 * stream read as a sequence of (offset, size, value, read or write) operations on a register
 * window. Offsets lean towards the registers the caller names (and their bytes), sizes are 1, 2,
 * 4 or 8, values lean towards small numbers and all-ones. A read must return no bits beyond its
 * size. Anything the device throws fails the fuzz run: a guest's access never may.
 */
public final class RegisterFuzz {
    private RegisterFuzz() {
    }

    /** One access's offset: a named register (or a byte in it) or anywhere in the window. */
    public static long offset(FuzzedDataProvider data, long window, int[] registers) {
        if (registers.length > 0 && data.consumeInt(0, 3) != 0) {
            return (registers[data.consumeInt(0, registers.length - 1)] + data.consumeInt(0, 3) * (data.consumeInt(0, 3) == 0 ? 1 : 0))
                % window;
        }
        return data.consumeLong(0, window - 1);
    }

    /** 1, 2, 4 or 8 bytes; 4 most often, as drivers do. */
    public static int size(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 5)) {
            case 0 -> 1;
            case 1 -> 2;
            case 2 -> 8;
            default -> 4;
        };
    }

    /** A value: small, all-ones, a single bit, or anything. */
    public static long value(FuzzedDataProvider data, int size) {
        long v = switch (data.consumeInt(0, 4)) {
            case 0 -> data.consumeInt(0, 16);
            case 1 -> -1L;
            case 2 -> 1L << data.consumeInt(0, 63);
            default -> data.consumeLong();
        };
        return size == 8 ? v : v & ((1L << (size * 8)) - 1);
    }

    /** A read of {@code size} bytes, checked to hold no bits beyond them. */
    public static long read(BusDevice device, long offset, int size) {
        long v = device.read(offset, size);
        if (size < 8) {
            assertEquals(0, v >>> (size * 8), String.format("read of %d bytes at %#x returned %#x", size, offset, v));
        }
        return v;
    }

    /** One access chosen by the fuzzer: a write (of a value it picks) or a read. */
    public static void access(FuzzedDataProvider data, BusDevice device, long window, int[] registers) {
        long offset = offset(data, window, registers);
        int size = size(data);
        if (data.consumeBoolean()) {
            device.write(offset, size, value(data, size));
        } else {
            read(device, offset, size);
        }
    }
}
