package org.jvisor.testing;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The one place a test says it needs a tool or a peer on the host (QEMU, socat, qemu-img, passt,
 * root ...). On a developer's machine a missing one skips the test with the reason; with
 * {@code -Djvisor.requireTools=true} (CI, which installs them all: .ci/run) it fails, so CI cannot
 * go green without running the real-peer tests. What CI cannot provide for good reasons (a usable
 * /dev/kvm: {@link KvmAvailability}) is not routed here.
 */
public final class RequiredTools {
    /** The system property that turns a missing tool into a failure. */
    public static final String PROPERTY = "jvisor.requireTools";

    private RequiredTools() {
    }

    /** Whether missing tools fail the run. */
    public static boolean required() {
        return Boolean.getBoolean(PROPERTY);
    }

    /** Skips (or with {@link #PROPERTY}, fails) the test unless {@code present}, saying {@code why}. */
    public static void assume(boolean present, String why) {
        if (present) {
            return;
        }
        if (required()) {
            Assertions.fail(why + " (-D" + PROPERTY + "=true: a missing tool is a failure)");
        }
        Assumptions.assumeTrue(false, why);
    }
}
