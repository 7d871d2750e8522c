package org.jvisor.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class ImagePoolTest {
    private static byte[] image(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    @Test
    void equalImagesAreHeldOnce() {
        ImagePool pool = new ImagePool();
        byte[] first = pool.share(image(1 << 16, 1));
        byte[] second = pool.share(image(1 << 16, 1));
        assertSame(first, second, "a second machine's equal kernel is the first one's array");
        assertEquals(1 << 16, pool.sharedBytes());
        assertEquals(1, pool.size());
        assertSame(first, pool.share(first), "sharing the held array again is a no-op");
        assertEquals(1 << 16, pool.sharedBytes());
    }

    @Test
    void imagesThatDifferInOneByteAreNotShared() {
        ImagePool pool = new ImagePool();
        byte[] a = pool.share(image(4096, 7));
        byte[] changed = image(4096, 7);
        changed[4095] ^= 1;
        byte[] b = pool.share(changed);
        assertNotSame(a, b);
        assertEquals(changed[4095], b[4095], "the changed file keeps its own bytes");
        assertEquals(0, pool.sharedBytes());
        byte[] shorter = pool.share(image(4095, 7));
        assertNotSame(a, shorter);
        assertEquals(4095, shorter.length);
    }

    @Test
    void noImageIsNoImage() {
        assertNull(new ImagePool().share(null));
    }
}
