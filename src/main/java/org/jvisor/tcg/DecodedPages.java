package org.jvisor.tcg;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The decoded-instruction indexes of code pages that machines share, keyed by the page's bytes:
 * ten machines booting the same kernel otherwise each build the same index of the same ~1500
 * code pages (about 6.5 MiB of index arrays per machine, issue 13). A machine takes the index
 * made from exactly the bytes its page holds when it starts running the page, compared in full;
 * every instruction put into the index is checked against those bytes first
 * ({@link CodeCache.Index#holds}); and a write to the page drops the machine's link to it, as it
 * dropped its own index before. So an index is never trusted across a content change, in any
 * machine. Pages at different guest-physical addresses with the same bytes (a program in the
 * page cache) share as well: the index holds no address.
 * <p>
 * Weakly held: an index lives while some machine's code cache holds it (softly), so a page whose
 * contents changed leaves nothing behind here. Thread-safe.
 */
final class DecodedPages {
    /** A weakly held index that remembers its key, so the entry goes with the index. */
    private static final class Ref extends WeakReference<CodeCache.Index> {
        final int hash;

        Ref(CodeCache.Index index, int hash, ReferenceQueue<CodeCache.Index> queue) {
            super(index, queue);
            this.hash = hash;
        }
    }

    private final Map<Integer, Ref> byHash = new HashMap<>();
    private final ReferenceQueue<CodeCache.Index> gone = new ReferenceQueue<>();
    private long found, made;

    /**
     * The index for a page that holds {@code bytes} (4096, a copy the caller made and gives up):
     * one made earlier from equal bytes, else a new one over these. A hash collision or a race
     * only costs sharing: the new index replaces the entry.
     */
    synchronized CodeCache.Index index(byte[] bytes) {
        for (Object r; (r = gone.poll()) != null; ) {
            Ref ref = (Ref) r;
            byHash.remove(ref.hash, ref);
        }
        int h = Arrays.hashCode(bytes);
        Ref r = byHash.get(h);
        CodeCache.Index x = r == null ? null : r.get();
        if (x != null && Arrays.equals(x.bytes, bytes)) {
            found++;
            return x;
        }
        x = new CodeCache.Index(bytes);
        byHash.put(h, new Ref(x, h, gone));
        made++;
        return x;
    }

    /** Indexes handed out that another attach had made (for tests and benchmarks). */
    synchronized long found() {
        return found;
    }

    /** Indexes made. */
    synchronized long made() {
        return made;
    }
}
