package org.jvisor.boot;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Boot images (kernel, initrd) that machines in one process share: a machine keeps its images for
 * every reboot, and ten machines booting the same 14 MiB kernel would otherwise hold it ten times
 * (issue 13: memory per extra guest). {@link #share} hands back an array already held with the
 * same bytes, so equal files are held once. Images are never written once read (see
 * {@code LinuxKernel}), which is what makes one array safe to share; a file that changed between
 * two machines' reads has other bytes and is held on its own. The pool holds arrays weakly: an
 * image goes when the last machine holding it does. Thread-safe.
 */
public final class ImagePool {
    /** An image's identity: its length and content hash; equal bytes are checked on every hit. */
    private record Key(int length, int hash) {
    }

    private static final class Ref extends WeakReference<byte[]> {
        final Key key;

        Ref(byte[] bytes, Key key, ReferenceQueue<byte[]> queue) {
            super(bytes, queue);
            this.key = key;
        }
    }

    private final Map<Key, Ref> images = new HashMap<>();
    private final ReferenceQueue<byte[]> gone = new ReferenceQueue<>();
    private long sharedBytes;

    /**
     * The array this pool already holds with exactly {@code image}'s bytes, else {@code image}
     * itself, now held by the pool. The caller must never write the array it gets.
     */
    public byte[] share(byte[] image) {
        if (image == null) {
            return null;
        }
        Key k = new Key(image.length, Arrays.hashCode(image));
        synchronized (this) {
            expunge();
            Ref r = images.get(k);
            byte[] held = r == null ? null : r.get();
            if (held == image) {
                return held;
            }
            if (held != null) {
                if (Arrays.equals(held, image)) {
                    sharedBytes += image.length;
                    return held;
                }
                return image; // a hash collision: rare, and costs only the sharing
            }
            images.put(k, new Ref(image, k, gone));
            return image;
        }
    }

    /** Bytes that {@link #share} answered with an array already held (memory saved, summed over calls). */
    public synchronized long sharedBytes() {
        return sharedBytes;
    }

    /** Images held now. */
    public synchronized int size() {
        expunge();
        return images.size();
    }

    private void expunge() {
        for (Object o; (o = gone.poll()) != null; ) {
            Ref r = (Ref) o;
            images.remove(r.key, r);
        }
    }
}
