package org.jvisor.backend.block;

import java.nio.file.Path;

/** Child process for {@link RawFileBackendTest}: opens an image, says so, holds it until stdin closes. */
public final class LockHolder {
    public static void main(String[] args) throws Exception {
        try (RawFileBackend b = RawFileBackend.open(Path.of(args[0]), false, CacheMode.WRITEBACK, m -> { })) {
            System.out.println("open " + b.size());
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait
            }
        }
    }
}
