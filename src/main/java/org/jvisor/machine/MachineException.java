package org.jvisor.machine;

/** The machine cannot be built or started; the message is for the user. */
public final class MachineException extends Exception {
    public MachineException(String message) {
        super(message);
    }

    public MachineException(String message, Throwable cause) {
        super(message, cause);
    }
}
