package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.jvisor.config.MachineConfig.SerialConfig;
import org.jvisor.qmp.HumanMonitorConfig;
import org.jvisor.qmp.HumanMonitorConfig.Where;
import org.jvisor.qmp.MonitorConfig.Address;
import org.junit.jupiter.api.Test;

/**
 * -monitor, -mon mode=readline, -serial mon:stdio and -nographic's default monitor, as QEMU 7.2's
 * vl.c places them (checked by running it): -nographic shares stdio between the serial port and
 * the monitor unless a monitor was asked for; with the serial port elsewhere the monitor has
 * stdio alone; two users of stdio are refused.
 */
class HumanMonitorOptionsTest {
    private static CommandLine.Action.Run parse(String... args) throws UsageException {
        String[] all = new String[args.length + 2];
        all[0] = "-kernel";
        all[1] = "/k";
        System.arraycopy(args, 0, all, 2, args.length);
        return (CommandLine.Action.Run) CommandLine.parse(all);
    }

    private static String error(String... args) {
        return assertThrows(UsageException.class, () -> parse(args)).getMessage();
    }

    @Test
    void monitorTakesStdioSocketsAChardevOrNone() throws UsageException {
        CommandLine.Action.Run r = parse("-display", "none", "-serial", "none", "-monitor", "stdio",
            "-monitor", "unix:/tmp/h.sock,server=on,wait=off", "-qmp", "tcp:127.0.0.1:0,server,nowait",
            "-monitor", "tcp::4446,server", "-chardev", "socket,id=hm,path=/tmp/m.sock,server=on,wait=off",
            "-mon", "chardev=hm", "-chardev", "socket,id=ht,host=127.0.0.1,port=0,server=on,wait=off",
            "-monitor", "chardev:ht");
        assertEquals(List.of(
            new HumanMonitorConfig("compat_monitor0", new Where.Stdio()),
            new HumanMonitorConfig("compat_monitor1", new Where.Socket(new Address.Unix(Path.of("/tmp/h.sock")), false)),
            new HumanMonitorConfig("compat_monitor3", new Where.Socket(new Address.Tcp("", 4446), true)),
            new HumanMonitorConfig("hm", new Where.Socket(new Address.Unix(Path.of("/tmp/m.sock")), false)),
            new HumanMonitorConfig("ht", new Where.Socket(new Address.Tcp("127.0.0.1", 0), false))), r.humanMonitors());
        assertEquals(1, r.monitors().size(), "-qmp stays QMP, its label counted with -monitor's");
        assertEquals(List.of(), r.config().chardevs(), "a monitor's chardev is not a device's");
        assertTrue(parse("-display", "none", "-monitor", "none").humanMonitors().isEmpty());
    }

    @Test
    void nographicSharesStdioUnlessAMonitorWasAskedFor() throws UsageException {
        CommandLine.Action.Run r = parse("-nographic");
        assertInstanceOf(SerialConfig.MonStdio.class, r.config().serial());
        assertEquals(List.of(new HumanMonitorConfig("serial0", new Where.SharedConsole())), r.humanMonitors());
        assertTrue(r.usesStdio());
        for (String[] other : List.of(new String[] {"-monitor", "none"}, new String[] {"-qmp", "unix:/tmp/q,server=on"},
                new String[] {"-nodefaults"})) {
            CommandLine.Action.Run o = parse(concat("-nographic", other));
            assertTrue(o.humanMonitors().isEmpty(), String.join(" ", other));
            assertTrue(!(o.config().serial() instanceof SerialConfig.MonStdio), String.join(" ", other));
        }
        CommandLine.Action.Run elsewhere = parse("-nographic", "-serial", "file:/tmp/s.txt");
        assertEquals(List.of(new HumanMonitorConfig("compat_monitor0", new Where.Stdio())), elsewhere.humanMonitors());
        assertInstanceOf(SerialConfig.MonStdio.class, parse("-display", "none", "-serial", "mon:stdio").config().serial());
        assertTrue(parse("-display", "none").humanMonitors().isEmpty(), "no -nographic: no default monitor");
    }

    @Test
    void stdioHasOneUserAndBadSpellingsAreRefusedInQemusWords() {
        assertTrue(error("-nographic", "-monitor", "stdio").contains("cannot use stdio by multiple character devices"));
        assertTrue(error("-serial", "stdio", "-monitor", "stdio").startsWith("-serial stdio: cannot use stdio"));
        assertTrue(error("-serial", "none", "-monitor", "stdio", "-monitor", "stdio").contains("cannot use stdio"));
        assertTrue(error("-serial", "mon:stdio", "-monitor", "stdio").contains("cannot use stdio"));
        assertTrue(error("-monitor", "foo").contains("'foo' is not a valid char driver"));
        assertTrue(error("-monitor", "unix:/tmp/x.sock").contains("server=on"));
        assertTrue(error("-mon", "chardev=nope").contains("no -chardev with id 'nope'"));
        assertTrue(error("-chardev", "null,id=n", "-mon", "chardev=n").contains("a human monitor needs a stdio or socket"));
        assertTrue(error("-chardev", "socket,id=f,fd=5,server=on", "-mon", "chardev=f").contains("QMP monitors only"));
        assertTrue(error("-nographic", "-daemonize").contains("-nographic cannot be used with -daemonize"));
        assertTrue(error("-display", "none", "-serial", "none", "-monitor", "stdio", "-daemonize")
            .contains("stdio cannot be a guest console"));
    }

    private static String[] concat(String first, String[] rest) {
        String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }
}
