package org.jvisor.qmp;

import java.util.List;
import java.util.function.Consumer;

import org.jvisor.api.ResourceUsage;
import org.jvisor.api.RunState;
import org.jvisor.api.VirtualMachine;
import org.jvisor.api.VmExit;

/**
 * Many machines in one process, as the control socket ({@link ControlMonitor}) manages them:
 * each is created from a jvisor command line, has its own monitors and consoles, and is listed
 * and destroyed by name.
 */
public interface VmHost {

    /** A request the host refuses: the message says why (it becomes the reply's GenericError). */
    final class Refused extends Exception {
        public Refused(String message) {
            super(message);
        }

        public Refused(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * One machine as vm-list shows it.
     *
     * @param monitors where its QMP monitors listen, as query-chardev names them
     */
    record VmSummary(String name, RunState status, String accelerator, ResourceUsage usage, List<String> monitors) {
    }

    /** A machine ended (the guest powered off, it was destroyed, or its engine failed) and is gone. */
    record VmEnded(String name, VmExit exit) {
    }

    /**
     * Builds and starts (unless -S) a machine called {@code name} from jvisor command-line
     * arguments {@code args}.
     *
     * @throws Refused if the name is taken or invalid, the arguments are wrong, or they ask for
     *                 what belongs to the whole process (a terminal, -daemonize, -sandbox ...)
     */
    VmSummary create(String name, List<String> args) throws Refused;

    List<VmSummary> list();

    /** Ends the machine at once (as QMP quit) and waits for its end. */
    VmExit destroy(String name) throws Refused;

    /** Ends every machine, then the host. */
    void quit();

    /** Calls {@code listener} when a machine has ended; closing the subscription stops it. */
    VirtualMachine.Subscription addListener(Consumer<VmEnded> listener);
}
