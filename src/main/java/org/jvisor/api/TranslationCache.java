package org.jvisor.api;

import org.jvisor.boot.ImagePool;
import org.jvisor.tcg.UnitLibrary;

/**
 * Translated guest code that virtual machines in one process share (tcg engine). Give the same
 * cache to {@link VirtualMachine#create(org.jvisor.config.MachineConfig, java.io.PrintStream,
 * TranslationCache)} for machines that boot the same guest kernel: the second and later ones reuse
 * the classes the first one generated, which HotSpot has already compiled, and translate the code
 * the first found hot after a few executions, so they start warm.
 *
 * <p>Sharing is safe between unrelated guests: a translation is reused only when the machine's
 * own code bytes at that place compile to exactly the same class, a decoded instruction only when
 * it is equal in every field, and every machine keeps its own units and its own invalidation on
 * writes. Code another machine ran often is translated early, but always from the machine's own
 * bytes. The cache holds the classes weakly beyond the last few thousand used: the others unload
 * when no machine uses them any more. Machines sharing a cache also hold equal kernel and initrd
 * files once (every machine keeps its boot images for reboots). Thread-safe.
 */
public final class TranslationCache {
    private final UnitLibrary library;
    private final ImagePool images = new ImagePool();

    /**
     * An empty cache to share: it also keeps the classes of the last few thousand units used
     * loaded after their machines closed, for the next machine booting the same guest.
     */
    public TranslationCache() {
        this.library = new UnitLibrary(true);
    }

    private TranslationCache(UnitLibrary library) {
        this.library = library;
    }

    /** A cache for one machine: its translated classes unload as soon as the machine drops them. */
    public static TranslationCache forOneMachine() {
        return new TranslationCache(new UnitLibrary());
    }

    UnitLibrary library() {
        return library;
    }

    ImagePool images() {
        return images;
    }

    /** Bytes of kernel and initrd images that machines sharing this cache did not hold again (equal files). */
    public long sharedImageBytes() {
        return images.sharedBytes();
    }

    /** Translation units made from a class generated before (by any machine sharing this cache). */
    public long reusedUnits() {
        return library.reusedUnits();
    }

    /** Classes generated for translation units through this cache. */
    public long generatedClasses() {
        return library.definedClasses();
    }

    /** Of those, the classes still loaded (in use by some machine). */
    public int loadedClasses() {
        return library.liveClasses();
    }
}
