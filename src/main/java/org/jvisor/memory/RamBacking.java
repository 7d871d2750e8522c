package org.jvisor.memory;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where guest RAM lives on the host: anonymous memory (jvisor's default), a memfd (QEMU's
 * {@code memory-backend-memfd}) or a file (QEMU's {@code memory-backend-file}). Only an fd-backed,
 * shared mapping can be handed to another process (a vhost-user backend maps the same pages).
 */
public sealed interface RamBacking {

    /** Whether the mapping is MAP_SHARED over a descriptor that another process may map. */
    boolean shareable();

    /** MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, as QEMU's RAM: no descriptor, nothing to share; KSM may merge it. */
    record Anonymous() implements RamBacking {
        @Override
        public boolean shareable() {
            return false;
        }
    }

    /**
     * memfd_create(name): {@code share} maps it MAP_SHARED (QEMU's default for memfd) or
     * MAP_PRIVATE; {@code seal} forbids growing and shrinking it once sized (F_SEAL_GROW|SHRINK).
     */
    record Memfd(String name, boolean share, boolean seal) implements RamBacking {
        public Memfd {
            Objects.requireNonNull(name, "name");
        }

        @Override
        public boolean shareable() {
            return share;
        }
    }

    /**
     * A file at {@code path} (created if missing, extended to the RAM size when empty), or an
     * unlinked temporary file when {@code path} is a directory (hugetlbfs, /dev/shm), as QEMU
     * does; {@code share} maps it MAP_SHARED (writes reach the file) or MAP_PRIVATE (the default).
     */
    record File(Path path, boolean share) implements RamBacking {
        public File {
            Objects.requireNonNull(path, "path");
        }

        @Override
        public boolean shareable() {
            return share;
        }
    }
}
