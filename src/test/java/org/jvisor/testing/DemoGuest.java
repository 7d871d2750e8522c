package org.jvisor.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.jvisor.guest.GuestBuilder;

/** The demo guest (Debian's kernel, busybox initramfs) for tests that boot it: built once, then reused. */
public final class DemoGuest {
    private DemoGuest() {
    }

    /**
     * The demo guest in its default place, built from Debian's packages if missing; the builder's
     * messages are kept quiet and shown only when the build fails.
     */
    public static GuestBuilder.Guest build() throws IOException {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try {
            return GuestBuilder.build(GuestBuilder.defaultOutDir(), false, new PrintStream(log, true, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IOException("building the demo guest failed: " + e.getMessage() + "\n" + log, e);
        }
    }
}
