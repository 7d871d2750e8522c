package org.jvisor.cli;

import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the command-line parser, which a server's control socket (vm-create) now feeds with a
 * client's strings: whatever the arguments, the outcome is a parsed action or a UsageException
 * with a message; any other exception is a bug. Options are drawn from jvisor's own so the
 * fuzzer reaches their value parsers.
 */
class CommandLineFuzzTest {
    private static final String[] OPTIONS = {
        "-accel", "-m", "-smp", "-kernel", "-initrd", "-append", "-machine", "-M", "-serial", "-chardev",
        "-device", "-drive", "-netdev", "-nic", "-qmp", "-mon", "-name", "-S", "-no-reboot", "-no-shutdown",
        "-nographic", "-display", "-incoming", "-sandbox", "-run-with", "-trace", "-d", "-pidfile", "-enable-kvm",
        "-object", "-blockdev", "-global", "-cpu", "-uuid", "-rtc", "-boot", "-snapshot", "-bios",
    };

    @FuzzTest(maxDuration = "60s")
    void args(FuzzedDataProvider data) {
        List<String> args = new ArrayList<>();
        int n = data.consumeInt(0, 12);
        for (int i = 0; i < n; i++) {
            args.add(data.consumeBoolean() ? data.pickValue(OPTIONS) : data.consumeAsciiString(40));
        }
        try {
            CommandLine.parse(args.toArray(String[]::new));
        } catch (UsageException e) {
            if (e.getMessage() == null || e.getMessage().isEmpty()) {
                throw new AssertionError("a usage error without a message for " + args, e);
            }
        }
    }
}
