package org.jvisor.backend.net;

/**
 * Which offloads frames handed to the device may use: partial checksums, TCP segmentation for IPv4
 * and IPv6, and TSO with ECN (the tap's TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN). What
 * the guest driver negotiated (GUEST_CSUM, GUEST_TSO4, ...) decides them.
 */
public record Offloads(boolean csum, boolean tso4, boolean tso6, boolean ecn) {
    public static final Offloads NONE = new Offloads(false, false, false, false);
}
