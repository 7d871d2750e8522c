package org.jvisor.boot.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One node of the zero page's setup_data list (boot.rst "Details of Header Fields", setup_data;
 * arch/x86/include/uapi/asm/bootparam.h struct setup_data): {@code next} (u64, the physical
 * address of the next node, 0 at the end), {@code type} (u32), {@code len} (u32), then {@code len}
 * bytes of data.
 *
 * @param type one of the SETUP_* types
 * @param data the node's payload
 */
public record SetupData(int type, byte[] data) {
    /** bootparam.h SETUP_RNG_SEED: bytes for the kernel's entropy pool (Linux 6.0+; older kernels skip unknown types). */
    public static final int SETUP_RNG_SEED = 9;
    /** next, type and len. */
    public static final int HEADER_BYTES = 16;
    /**
     * Seed length: 32 bytes, what QEMU and kexec-tools pass, credit the 256 bits that make the
     * kernel's random number generator ready (random.c, add_bootloader_randomness, trusted with
     * CONFIG_RANDOM_TRUST_BOOTLOADER or random.trust_bootloader=on).
     */
    public static final int RNG_SEED_BYTES = 32;

    public SetupData {
        data = data.clone();
    }

    /** A SETUP_RNG_SEED node carrying {@code seed}. */
    public static SetupData rngSeed(byte[] seed) {
        if (seed.length == 0) {
            throw new IllegalArgumentException("an RNG seed needs at least one byte");
        }
        return new SetupData(SETUP_RNG_SEED, seed);
    }

    /** The node as the kernel reads it, ending the list ({@code next} 0). */
    public byte[] bytes() {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0).putInt(type).putInt(data.length).put(data);
        return b.array();
    }

    /** The node's size in guest memory. */
    public int size() {
        return HEADER_BYTES + data.length;
    }
}
