package org.jvisor.qmp;

/**
 * One human monitor (HMP): -monitor stdio|unix:PATH,server=on|tcp:HOST:PORT,server=on|chardev:ID,
 * -mon chardev=ID[,mode=readline], or the console it shares with the serial port (-serial
 * mon:stdio, the -nographic default).
 *
 * @param label the chardev's label as query-chardev lists it ("compat_monitor0" for -monitor)
 * @param where where it is reached
 */
public record HumanMonitorConfig(String label, Where where) {

    /** Where a human monitor is reached. */
    public sealed interface Where {
        /** The host's stdin and stdout, the monitor's alone. */
        record Stdio() implements Where {
        }

        /** The machine's serial console on stdio, shared (Ctrl-A c). */
        record SharedConsole() implements Where {
        }

        /** A socket server (Unix or TCP; one client at a time), with QEMU's wait=. */
        record Socket(MonitorConfig.Address address, boolean waitForClient) implements Where {
        }
    }

    /** Whether it uses the host's stdio. */
    public boolean usesStdio() {
        return !(where instanceof Where.Socket);
    }
}
