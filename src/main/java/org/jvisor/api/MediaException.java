package org.jvisor.api;

/**
 * A removable-media request the machine refused ({@link VirtualMachine#ejectMedium} and the other
 * media methods); {@link #reason()} says why, the message gives the detail.
 */
public final class MediaException extends Exception {
    /** Why a media request failed. */
    public enum Reason {
        /** No drive has that id. */
        NO_SUCH_DRIVE,
        /** The drive is a disk: its medium cannot be taken out. */
        NOT_REMOVABLE,
        /** The guest locked the tray; it was asked to release the medium (an eject request). */
        LOCKED,
        /** The medium can be taken out only of an open tray. */
        TRAY_CLOSED,
        /** The new medium could not be opened; the old one stays. */
        CANNOT_OPEN,
        /** A medium can go only into an empty drive (take the old one out first). */
        MEDIUM_PRESENT
    }

    private final Reason reason;

    public MediaException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public MediaException(Reason reason, String message) {
        this(reason, message, null);
    }

    public Reason reason() {
        return reason;
    }
}
