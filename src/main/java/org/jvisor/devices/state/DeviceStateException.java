package org.jvisor.devices.state;

/**
 * A device refused a state to restore: a field out of range, a ring outside guest RAM, a state
 * saved from another kind of device or another configuration. The message names the device and
 * the field; the device is left as it was when the refusal came before any change, and otherwise
 * needs a reset (a machine restore that fails is abandoned as a whole).
 */
public final class DeviceStateException extends Exception {

    public DeviceStateException(String message) {
        super(message);
    }

    public DeviceStateException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The state handed to {@code device} is of another device kind. */
    public static DeviceStateException wrongKind(String device, Class<? extends DeviceState> expected, Object got) {
        return new DeviceStateException(String.format("%s: expected a %s, got %s", device, expected.getSimpleName(),
            got == null ? "nothing" : "a " + got.getClass().getSimpleName()));
    }

    /** Refuses {@code value} of {@code field} unless {@code min <= value <= max}. */
    public static void checkRange(String device, String field, long value, long min, long max)
            throws DeviceStateException {
        if (value < min || value > max) {
            throw new DeviceStateException(String.format("%s: %s %#x is outside [%#x, %#x]", device, field, value, min, max));
        }
    }

    /** Refuses {@code value} of {@code field} if it has a bit outside {@code allowed}. */
    public static void checkBits(String device, String field, long value, long allowed) throws DeviceStateException {
        if ((value & ~allowed) != 0) {
            throw new DeviceStateException(String.format("%s: %s %#x has bits %#x that are reserved", device, field,
                value, value & ~allowed));
        }
    }

    /** Refuses a sequence field whose length is not {@code expected}. */
    public static void checkLength(String device, String field, int length, int expected) throws DeviceStateException {
        if (length != expected) {
            throw new DeviceStateException(String.format("%s: %s has %d entries, not %d", device, field, length, expected));
        }
    }
}
