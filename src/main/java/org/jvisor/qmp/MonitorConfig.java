package org.jvisor.qmp;

import java.nio.file.Path;

/**
 * One QMP monitor: -qmp unix:PATH,server=on,wait=off, -qmp tcp:HOST:PORT,..., or -chardev
 * socket,id=ID,... with -mon chardev=ID,mode=control[,pretty=on].
 *
 * @param label         the chardev's id as query-chardev lists it ("compat_monitor0" for -qmp)
 * @param address       where it listens
 * @param waitForClient QEMU's wait=on: the machine does not start before a client connects
 * @param pretty        -mon pretty=on: replies over several indented lines
 */
public record MonitorConfig(String label, Address address, boolean waitForClient, boolean pretty) {

    /** Where a monitor listens. */
    public sealed interface Address {
        /** QEMU's description of the socket, as query-chardev gives it ("unix:/p,server=on"). */
        String qemuName();

        /** A Unix domain socket at {@code path} (a stale socket there is replaced). */
        record Unix(Path path) implements Address {
            @Override
            public String qemuName() {
                return "unix:" + path + ",server=on";
            }
        }

        /**
         * A listening socket inherited from the process that started jvisor ({@code -chardev
         * socket,id=ID,fd=N,server=on}: libvirt binds the monitor socket itself and passes it).
         */
        record Inherited(int fd) implements Address {
            @Override
            public String qemuName() {
                return "fd:" + fd + ",server=on";
            }
        }

        /** A TCP socket on {@code host} (a name or address; empty: every interface) and {@code port}. */
        record Tcp(String host, int port) implements Address {
            @Override
            public String qemuName() {
                return "tcp:" + host + ":" + port + ",server=on";
            }
        }
    }
}
