package org.jvisor.config;

/** An Ethernet MAC address (48 bits, the first octet in bits 47-40), as -device virtio-net-*,mac= gives it. */
public record MacAddress(long value) {
    /** QEMU's default for its first NIC; later NICs count up from it. */
    public static final MacAddress QEMU_DEFAULT = new MacAddress(0x5254_0012_3456L);

    /**
     * The address whose 48 bits are {@code value}.
     *
     * @throws IllegalArgumentException if {@code value} has bits above the 48 of an address
     */
    public MacAddress {
        if ((value & ~0xFFFF_FFFF_FFFFL) != 0) {
            throw new IllegalArgumentException("a MAC address has 48 bits: " + Long.toHexString(value));
        }
    }

    /**
     * Parses six hexadecimal octets separated by ':' (or '-'), e.g. 52:54:00:12:34:56. Refuses other
     * shapes and multicast addresses (the low bit of the first octet), which a NIC cannot own.
     */
    public static MacAddress parse(String text) {
        String[] parts = text.split("[:-]", -1);
        if (parts.length != 6) {
            throw new IllegalArgumentException("'" + text + "' is not a MAC address (expected 6 octets such as 52:54:00:12:34:56)");
        }
        long v = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 2 || !p.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                throw new IllegalArgumentException("'" + text + "' is not a MAC address (octet '" + p + "' is not 1-2 hex digits)");
            }
            v = v << 8 | Integer.parseInt(p, 16);
        }
        MacAddress m = new MacAddress(v);
        if (m.multicast()) {
            throw new IllegalArgumentException("'" + text + "' is a multicast address (the first octet is odd); a NIC needs a unicast MAC");
        }
        return m;
    }

    /** Whether this is a group address (the low bit of the first octet), which a NIC cannot own. */
    public boolean multicast() {
        return (value >>> 40 & 1) != 0;
    }

    /** The address {@code n} above this one (QEMU numbers its default NIC addresses this way). */
    public MacAddress plus(int n) {
        return new MacAddress((value + n) & 0xFFFF_FFFF_FFFFL);
    }

    /** Octet {@code i} (0 is the first on the wire). */
    public int octet(int i) {
        return (int) (value >>> (40 - 8 * i)) & 0xFF;
    }

    @Override
    public String toString() {
        return String.format("%02x:%02x:%02x:%02x:%02x:%02x", octet(0), octet(1), octet(2), octet(3), octet(4), octet(5));
    }
}
