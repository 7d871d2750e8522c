package org.jvisor.devices.ide;

/**
 * A CD-ROM's tray as the guest sees it (MMC-6, 6.9 and 6.25; QEMU's tray_open, tray_locked,
 * cdrom_changed and the media event flags): open or closed, locked by PREVENT ALLOW MEDIUM
 * REMOVAL, the change still to report, and the media events GET EVENT STATUS NOTIFICATION has
 * not yet delivered. Guarded by the drive's controller, as the drive is.
 */
final class CdromTray {
    boolean open;
    boolean locked;
    MediaChange change = MediaChange.NONE;
    /** MMC media event "new media" waiting for GET EVENT STATUS NOTIFICATION. */
    boolean newMedia;
    /** MMC media event "eject request" (the host asked for the medium while the tray was locked). */
    boolean ejectRequest;
}
