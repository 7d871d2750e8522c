package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;
import org.jvisor.qmp.MonitorConfig;
import org.jvisor.qmp.MonitorConfig.Address;

/** -qmp, -mon, -name, -pidfile and -daemonize in QEMU's spellings, and the errors for what jvisor lacks. */
class MonitorOptionsTest {

    private static CommandLine.Action.Run parse(String... args) throws UsageException {
        String[] all = new String[args.length + 2];
        all[0] = "-kernel";
        all[1] = "k";
        System.arraycopy(args, 0, all, 2, args.length);
        return (CommandLine.Action.Run) CommandLine.parse(all);
    }

    private static String error(String... args) {
        return assertThrows(UsageException.class, () -> parse(args)).getMessage();
    }

    @Test
    void qmpAndMonInCommandLineOrder() throws UsageException {
        CommandLine.Action.Run r = parse("-qmp", "unix:/tmp/a.sock,server=on,wait=off",
            "-chardev", "socket,id=m1,path=/tmp/b.sock,server=on,wait=off", "-mon", "chardev=m1,mode=control,pretty=on",
            "-qmp", "tcp:localhost:4444,server,nowait",
            "-chardev", "socket,id=m2,host=127.0.0.1,port=4445,server=on", "-mon", "chardev=m2,mode=control",
            "-qmp", "unix:/tmp/c.sock,server");
        assertEquals(List.of(
            new MonitorConfig("compat_monitor0", new Address.Unix(Path.of("/tmp/a.sock")), false, false),
            new MonitorConfig("m1", new Address.Unix(Path.of("/tmp/b.sock")), false, true),
            new MonitorConfig("compat_monitor1", new Address.Tcp("localhost", 4444), false, false),
            new MonitorConfig("m2", new Address.Tcp("127.0.0.1", 4445), true, false),
            new MonitorConfig("compat_monitor2", new Address.Unix(Path.of("/tmp/c.sock")), true, false)), r.monitors());
        assertEquals(List.of(), r.config().chardevs(), "a monitor's chardev is not a device's");
    }

    @Test
    void monitorsNeedAServerSocketAndControlMode() {
        assertTrue(error("-qmp", "unix:/tmp/a.sock").contains("server=on"));
        assertTrue(error("-qmp", "stdio").contains("is not a monitor socket jvisor has"));
        assertTrue(error("-qmp", "tcp:h:99999,server=on").contains("is not a TCP port"));
        assertTrue(error("-chardev", "socket,id=m,path=/tmp/m,server=on", "-mon", "chardev=m,mode=bogus")
            .contains("Parameter 'mode' does not accept value 'bogus'"));
        assertTrue(error("-chardev", "null,id=m", "-mon", "chardev=m,mode=control").contains("needs a socket server"));
        assertTrue(error("-mon", "chardev=nope,mode=control").contains("no -chardev with id 'nope'"));
        assertTrue(error("-chardev", "socket,id=t,host=h,port=1,server=on").contains("only supported for a QMP monitor"));
        assertTrue(error("-chardev", "socket,id=t,host=h,port=1,server=on", "-serial", "chardev:t")
            .contains("only a QMP monitor (-mon) can use"));
        assertTrue(error("-chardev", "socket,id=m,path=/tmp/m,server=on", "-mon", "chardev=m,mode=control",
            "-serial", "chardev:m").contains("already in use by -mon"));
    }

    @Test
    void nameInBothSpellings() throws UsageException {
        assertEquals("vm1", parse("-name", "vm1").config().name());
        assertEquals("vm2", parse("-name", "guest=vm2,debug-threads=on").config().name());
        assertEquals(null, parse().config().name());
        assertTrue(error("-name", "debug-threads=on").contains("no name given"));
    }

    @Test
    void daemonizeTakesTheConsoleOffStdio() throws UsageException {
        CommandLine.Action.Run r = parse("-daemonize", "-pidfile", "/tmp/p.pid");
        assertTrue(r.daemonize());
        assertEquals(Path.of("/tmp/p.pid"), r.pidfile());
        assertEquals(new MachineConfig.SerialConfig.None(), r.config().serial());
        assertFalse(parse().daemonize());
        assertEquals("-nographic cannot be used with -daemonize", error("-daemonize", "-nographic"));
        assertTrue(error("-daemonize", "-serial", "stdio").contains("stdio cannot be a guest console"));
    }

    /**
     * The daemon is a new JVM, which inherits no descriptor above 2: -daemonize with an inherited
     * descriptor is refused by name, where without -daemonize the same options work.
     */
    @Test
    void daemonizeRefusesInheritedDescriptors(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        try (org.jvisor.sys.Fd socket = org.jvisor.sys.Sockets.listen(dir.resolve("m.sock").toString(), 1);
             org.jvisor.sys.Fd file = org.jvisor.sys.Fd.open("/dev/null", org.jvisor.sys.Fd.O_RDWR)) {
            String[] monitor = {"-chardev", "socket,id=m,fd=" + socket.fd() + ",server=on,wait=off",
                "-mon", "chardev=m,mode=control"};
            parse(monitor);
            String e = error(concat(monitor, "-daemonize"));
            assertTrue(e.startsWith("-daemonize cannot be used with -chardev socket,fd="), e);
            String[] fdSet = {"-add-fd", "set=3,fd=" + file.fd()};
            parse(fdSet);
            e = error(concat(fdSet, "-daemonize"));
            assertTrue(e.startsWith("-daemonize cannot be used with -add-fd"), e);
            String[] tap = {"-netdev", "tap,id=n0,fd=" + file.fd(), "-device", "virtio-net-pci,netdev=n0"};
            parse(tap);
            e = error(concat(tap, "-daemonize"));
            assertTrue(e.startsWith("-daemonize cannot be used with -netdev tap,fd="), e);
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
