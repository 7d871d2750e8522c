package org.jvisor.backend.net;

import java.io.IOException;

/**
 * The host side of a network device. Every frame in either direction starts with a virtio-net
 * header of {@link #vnetHeaderSize()} bytes (virtio 1.2, 5.1.6), then the Ethernet frame.
 *
 * <p>Receiving is edge-driven with backpressure: after {@link #armReceive()} the backend calls the
 * listener once, from a thread of its own, when a frame can be read; the device then reads with
 * {@link #receive} until it returns 0 (and arms again) or until it has no room for more (and does
 * not arm, so the host queues or drops, and nothing spins).
 */
public interface NetBackend extends AutoCloseable {

    /** For messages, e.g. "-netdev tap,id=net0 (tap0)". */
    String describe();

    /** Bytes of the virtio-net header in front of each frame. */
    int vnetHeaderSize();

    /**
     * Whether the host end takes and gives the header's checksum and segmentation offloads (a tap
     * with IFF_VNET_HDR). False for a peer of plain Ethernet frames (a stream socket, passt): the
     * device then offers the guest no offload, as QEMU does for a peer without a vnet header, and
     * frames from the backend come with a zero header.
     */
    boolean carriesOffloads();

    /** Sets which offloads frames received from the backend may use (what the guest accepts). */
    void setOffloads(Offloads offloads) throws IOException;

    /** Sends one frame: {@code length} bytes of {@code buf}, header included. */
    void send(byte[] buf, int length) throws IOException;

    /** Reads one frame, header included, into {@code buf}; its length, or 0 if none is waiting. */
    int receive(byte[] buf) throws IOException;

    /** Who to call when a frame can be read (called from the backend's thread, once per arming). */
    void setReceiveListener(Runnable listener);

    /** Asks for one call of the receive listener once a frame can be read. */
    void armReceive();

    /** Stops calling the listener (the device was reset). */
    void disarmReceive();

    @Override
    void close();
}
