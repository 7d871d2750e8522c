package org.jvisor.boot;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Boot images (kernel, initrd) that machines in one process share: a machine holds its images
 * from reading them to loading them into its RAM (and again for each reboot), and ten machines
 * started together with the same 14 MiB kernel would otherwise hold it ten times (issue 13:
 * memory per extra guest). {@link #share} hands back an array already held with the
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
        /**
         * What was made from the image, by kind, held weakly: a value that refers to the image
         * (a parsed kernel does) must not keep it in the pool after the last machine let go.
         */
        final Map<String, WeakReference<Object>> derived = new HashMap<>();

        Ref(byte[] bytes, Key key, ReferenceQueue<byte[]> queue) {
            super(bytes, queue);
            this.key = key;
        }
    }

    /** Makes a value from an image: parsing, validating. */
    @FunctionalInterface
    public interface Derivation<T> {
        T make() throws BootException;
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

    /**
     * The value of kind {@code kind} made from {@code image} (an array {@link #share} returned),
     * made now by {@code make} unless a machine made it before and still holds it. The value must
     * be immutable, as it is shared: a kernel validated and parsed once (its payload decompressed
     * once to check it) serves every machine booting that kernel. A failure is not remembered.
     */
    public <T> T derived(byte[] image, String kind, Class<T> type, Derivation<T> make) throws BootException {
        Ref r;
        synchronized (this) {
            expunge();
            r = images.get(new Key(image.length, Arrays.hashCode(image)));
            if (r != null && r.get() == image) {
                WeakReference<Object> w = r.derived.get(kind);
                Object v = w == null ? null : w.get();
                if (v != null) {
                    return type.cast(v);
                }
            } else {
                r = null; // not held here (a hash collision): made for this caller alone
            }
        }
        T v = make.make(); // outside the lock: two machines may both make it, and one keeps it
        if (r != null) {
            synchronized (this) {
                r.derived.put(kind, new WeakReference<>(v));
            }
        }
        return v;
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
