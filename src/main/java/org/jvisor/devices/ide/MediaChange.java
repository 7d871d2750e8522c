package org.jvisor.devices.ide;

/**
 * What a CD-ROM still owes the guest after its medium changed (QEMU's cdrom_changed): guests
 * that do not poll GET EVENT STATUS NOTIFICATION learn of a change from the next command that
 * needs no UNIT ATTENTION exemption, which first sees the medium gone (NOT READY, 3Ah) and then,
 * on the one after, UNIT ATTENTION 28h (NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED).
 */
public enum MediaChange {
    /** Nothing to report. */
    NONE,
    /** The next command gets NOT READY / MEDIUM NOT PRESENT. */
    REPORT_REMOVAL,
    /** The next command gets UNIT ATTENTION / 28h. */
    REPORT_NEW_MEDIUM
}
