package org.jvisor.machine;

/**
 * A snapshot could not be written or restored: the file is missing, truncated, corrupt, of another
 * format or record version, or saved from a machine configured differently. The message names the
 * file and what is wrong; nothing of a refused restore keeps running.
 */
public final class SnapshotException extends Exception {

    public SnapshotException(String message) {
        super(message);
    }

    public SnapshotException(String message, Throwable cause) {
        super(message, cause);
    }
}
