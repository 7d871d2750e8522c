package org.jvisor.api;

/**
 * A character device (-chardev) of the machine, as QMP's query-chardev describes it.
 *
 * @param label        its id
 * @param filename     QEMU's description of where it goes: "stdio", "file", "null",
 *                     "unix:PATH,server=on" ("disconnected:unix:..." while no client is connected)
 * @param frontendOpen whether a device of the machine uses it (-serial chardev:, a virtio-serial port)
 */
public record ChardevInfo(String label, String filename, boolean frontendOpen) {
}
