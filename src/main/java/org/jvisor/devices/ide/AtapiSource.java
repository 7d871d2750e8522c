package org.jvisor.devices.ide;

/** Where a CD-ROM's data-in phase takes its bytes: a command's reply, or the medium. */
public enum AtapiSource {
    NONE, REPLY, MEDIUM
}
