package org.jvisor.devices.virtio;

/**
 * The control messages of a multiport virtio-console (virtio 1.2, 5.3.6.2): {@code struct
 * virtio_console_control { le32 id; le16 event; le16 value; }}, sometimes followed by data (the
 * name of PORT_NAME).
 */
enum ConsoleControl {
    DEVICE_READY(0),
    DEVICE_ADD(1),
    DEVICE_REMOVE(2),
    PORT_READY(3),
    CONSOLE_PORT(4),
    RESIZE(5),
    PORT_OPEN(6),
    PORT_NAME(7);

    /** Size of the message header. */
    static final int HEADER = 8;
    /** The id of messages about the device rather than a port. */
    static final int NO_PORT = 0xFFFF_FFFF;
    private static final ConsoleControl[] BY_CODE = values();

    final int code;

    ConsoleControl(int code) {
        this.code = code;
    }

    /** The event with {@code code}, or null for one the spec does not define. */
    static ConsoleControl of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** A message to the driver: header and {@code data} (may be empty). */
    byte[] message(int port, int value, byte[] data) {
        byte[] m = new byte[HEADER + data.length];
        putLe(m, 0, port, 4);
        putLe(m, 4, code, 2);
        putLe(m, 6, value, 2);
        System.arraycopy(data, 0, m, HEADER, data.length);
        return m;
    }

    private static void putLe(byte[] b, int off, int v, int size) {
        for (int i = 0; i < size; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }
}
