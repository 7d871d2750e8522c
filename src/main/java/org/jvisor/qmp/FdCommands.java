package org.jvisor.qmp;

import java.util.List;

import org.jvisor.qmp.QmpCommandTable.Param;
import org.jvisor.qmp.QmpCommandTable.Type;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.sys.Fd;

/**
 * getfd and closefd (qapi/misc.json): a client passes a descriptor with SCM_RIGHTS on the
 * monitor's Unix socket and names it; netdev_add tap,fd=NAME then takes it. libvirt 9.0 does this
 * for virsh attach-interface of a tap it opened. Errors in QEMU 7.2's words (monitor/misc.c,
 * checked against qemu-system-x86_64 7.2). The descriptors belong to the monitor the command
 * came on ({@link #CURRENT}, QEMU's monitor_cur()).
 */
final class FdCommands {
    /** The descriptors of the monitor running the current command; unbound where there are none (the control socket). */
    static final ScopedValue<MonitorFds> CURRENT = ScopedValue.newInstance();

    private FdCommands() {
    }

    static void register(QmpCommandTable c) {
        c.add("getfd", List.of(new Param("fdname", Type.STRING, true)), FdCommands::getfd);
        c.add("closefd", List.of(new Param("fdname", Type.STRING, true)), FdCommands::closefd);
    }

    /** The current command's monitor's descriptors, or null where there are none. */
    private static MonitorFds current() {
        return CURRENT.isBound() ? CURRENT.get() : null;   // Java 25's orElse takes no null
    }

    private static JsonValue getfd(JsonObject a) throws QmpError {
        String name = ((JsonValue.JsonString) a.members().get("fdname")).value();
        MonitorFds fds = current();
        Fd fd = fds == null ? null : fds.takePassed();
        if (fd == null) {
            throw QmpError.generic("No file descriptor supplied via SCM_RIGHTS");
        }
        // a name that starts with a digit would read as a descriptor number in fd= (monitor_fd_param)
        if (!name.isEmpty() && Character.isDigit(name.charAt(0))) {
            fd.close();
            throw QmpError.generic("Parameter 'fdname' expects a name not starting with a digit");
        }
        fds.name(name, fd);
        return JsonObject.EMPTY;
    }

    private static JsonValue closefd(JsonObject a) throws QmpError {
        String name = ((JsonValue.JsonString) a.members().get("fdname")).value();
        MonitorFds fds = current();
        if (fds == null || !fds.close(name)) {
            throw QmpError.generic("File descriptor named '" + name + "' not found");
        }
        return JsonObject.EMPTY;
    }

    /**
     * monitor_get_fd for netdev_add's fd=NAME: descriptor {@code name} leaves the monitor; its
     * number, now the caller's to close.
     *
     * @throws IllegalArgumentException in QEMU's words if the monitor has none of that name
     */
    static int take(String name) {
        MonitorFds fds = current();
        Fd fd = fds == null ? null : fds.take(name);
        if (fd == null) {
            throw new IllegalArgumentException("File descriptor named '" + name + "' has not been found");
        }
        return fd.fd();
    }
}
