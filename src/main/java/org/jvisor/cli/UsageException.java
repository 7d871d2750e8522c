package org.jvisor.cli;

/** A malformed command line; the message names the option and what was expected. */
public final class UsageException extends Exception {
    public UsageException(String message) {
        super(message);
    }

    public UsageException(String message, Throwable cause) {
        super(message, cause);
    }
}
