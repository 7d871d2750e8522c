package org.jvisor.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

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

    @Test
    void aValueMadeFromAnImageIsMadeOncePerKind() throws BootException {
        ImagePool pool = new ImagePool();
        byte[] kernel = pool.share(image(8192, 3));
        int[] made = new int[1];
        ImagePool.Derivation<String> parse = () -> "parsed " + ++made[0];
        String first = pool.derived(kernel, "parsed", String.class, parse);
        assertSame(first, pool.derived(pool.share(image(8192, 3)), "parsed", String.class, parse),
            "a second machine with the same kernel gets the first one's parse");
        assertEquals(1, made[0]);
        assertEquals("parsed 2", pool.derived(kernel, "another kind", String.class, parse));
        byte[] other = pool.share(image(8192, 4));
        assertEquals("parsed 3", pool.derived(other, "parsed", String.class, parse), "another kernel is parsed anew");
    }

    @Test
    void aFailureIsNotRemembered() throws BootException {
        ImagePool pool = new ImagePool();
        byte[] kernel = pool.share(image(100, 5));
        assertThrows(BootException.class, () -> pool.derived(kernel, "k", String.class, () -> {
            throw new BootException("bad payload");
        }));
        assertEquals("good", pool.derived(kernel, "k", String.class, () -> "good"));
    }
}
