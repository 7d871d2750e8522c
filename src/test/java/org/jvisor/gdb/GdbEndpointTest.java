package org.jvisor.gdb;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.jvisor.cli.CommandLine;
import org.jvisor.cli.UsageException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** -s and -gdb as QEMU spells them. */
class GdbEndpointTest {
    @Test
    void qemusSpellingsParse() {
        assertEquals(new GdbEndpoint.Tcp("", 1234), GdbEndpoint.parse("tcp::1234"));
        assertEquals(new GdbEndpoint.Tcp("127.0.0.1", 4321), GdbEndpoint.parse("tcp:127.0.0.1:4321,server=on,wait=off"));
        assertEquals(new GdbEndpoint.Unix(Path.of("/tmp/g.sock")), GdbEndpoint.parse("unix:/tmp/g.sock,server=on"));
        assertNull(GdbEndpoint.parse("none"));
    }

    @Test
    void anythingElseIsRefusedWithTheReason() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> GdbEndpoint.parse("tcp::99999")).getMessage().contains("range"));
        assertThrows(IllegalArgumentException.class, () -> GdbEndpoint.parse("tcp:1234"));
        assertThrows(IllegalArgumentException.class, () -> GdbEndpoint.parse("udp::1234"));
        assertThrows(IllegalArgumentException.class, () -> GdbEndpoint.parse("tcp::1234,reconnect=1"));
    }

    @Test
    void dashSIsTcpPort1234AndKvmIsRefused() throws UsageException {
        var run = (CommandLine.Action.Run) CommandLine.parse(new String[] {"-accel", "tcg", "-s", "-S", "-kernel", "k"});
        assertEquals(GdbEndpoint.DEFAULT, run.gdb());
        assertTrue(run.startPaused());
        var none = (CommandLine.Action.Run) CommandLine.parse(new String[] {"-gdb", "none", "-kernel", "k"});
        assertNull(none.gdb());
        UsageException e = assertThrows(UsageException.class,
            () -> CommandLine.parse(new String[] {"-accel", "kvm", "-s", "-kernel", "k"}));
        assertTrue(e.getMessage().contains("tcg"), e.getMessage());
    }
}
