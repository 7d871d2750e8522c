package org.jvisor.backend.rng;

import java.security.SecureRandom;

/**
 * {@code -object rng-builtin}: the host's own generator through {@link SecureRandom} (on Linux
 * the kernel's, as QEMU's {@code qemu_guest_getrandom}). It always has bytes.
 */
public final class BuiltinEntropy implements EntropySource {
    private final SecureRandom random;
    /**
     * Drawn from the generator 4 KiB at a time; the last {@link #pooled} bytes are unused. Each
     * byte goes out once: a 64-byte request costs 64 bytes of the generator, not 4 KiB.
     */
    private final byte[] pool = new byte[4096];
    private int pooled;

    public BuiltinEntropy() {
        this(new SecureRandom());
    }

    public BuiltinEntropy(SecureRandom random) {
        this.random = random;
    }

    @Override
    public synchronized int read(byte[] buf, int offset, int length) {
        int done = 0;
        while (done < length) {
            if (pooled == 0) {
                random.nextBytes(pool);
                pooled = pool.length;
            }
            int n = Math.min(pooled, length - done);
            System.arraycopy(pool, pool.length - pooled, buf, offset + done, n);
            pooled -= n;
            done += n;
        }
        return done;
    }

    @Override
    public String describe() {
        return "rng-builtin";
    }
}
