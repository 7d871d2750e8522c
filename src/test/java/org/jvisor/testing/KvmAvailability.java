package org.jvisor.testing;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assumptions;

/** Tests that need /dev/kvm skip, with the reason shown, on hosts where it cannot be opened. */
public final class KvmAvailability {
    private KvmAvailability() {
    }

    public static void assumeKvm() {
        Path kvm = Path.of("/dev/kvm");
        Assumptions.assumeTrue(Files.exists(kvm), "skipped: this host has no /dev/kvm");
        Assumptions.assumeTrue(Files.isReadable(kvm) && Files.isWritable(kvm),
            "skipped: /dev/kvm is not accessible to this user");
    }
}
