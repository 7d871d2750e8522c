package org.jvisor.boot;

/** A kernel or boot input that cannot be used; the message says what and why, for the user. */
public final class BootException extends Exception {
    public BootException(String message) {
        super(message);
    }

    public BootException(String message, Throwable cause) {
        super(message, cause);
    }
}
