package org.jvisor.api;

/**
 * A virtual machine cannot be built: a missing or malformed kernel, an image that cannot be
 * opened, too much memory, an engine that is not available... The message is a sentence for the
 * user that names the option at fault; the cause, when there is one, is kept.
 */
public final class VmException extends Exception {
    /** An exception with {@code message} for the user and the {@code cause} behind it (or null). */
    public VmException(String message, Throwable cause) {
        super(message, cause);
    }
}
