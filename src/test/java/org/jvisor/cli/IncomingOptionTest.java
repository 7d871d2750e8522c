package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * -incoming file:PATH with a file that cannot be restored, as a user types it: one line on stderr
 * naming the file and the fault, status 1, no stack trace, and the guest never runs.
 */
@GuestTest
class IncomingOptionTest {
    @TempDir
    Path dir;

    private static JvisorProcess.Result run(Path snapshot) throws Exception {
        return JvisorProcess.run("-accel", "tcg", "-nographic", "-kernel", JvisorProcess.guest("hello.elf").toString(),
            "-incoming", "file:" + snapshot);
    }

    private static void oneLine(JvisorProcess.Result r, String expected) {
        assertEquals(1, r.status(), r.stderr());
        String[] lines = r.stderr().strip().split("\n");
        String last = lines[lines.length - 1];
        assertTrue(last.startsWith("jvisor: -incoming: ") && last.contains(expected), r.stderr());
        assertFalse(r.stderr().contains("Exception") || r.stderr().contains("\tat "), r.stderr());
        assertFalse(r.stdout().contains("Hello"), "the guest ran:\n" + r.stdout());
    }

    @Test
    void aMissingOrForeignFileIsOneLineAndStatusOne() throws Exception {
        Path missing = dir.resolve("missing.jvsnap");
        oneLine(run(missing), missing + ": cannot open");
        Path foreign = dir.resolve("foreign.jvsnap");
        Files.writeString(foreign, "QEVM this is QEMU's stream, not ours");
        oneLine(run(foreign), foreign + " is not a jvisor snapshot (no JVSNAPSH magic)");
    }
}
