package org.jvisor.devices.virtio;

import java.util.List;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;

/**
 * What a virtio-console (virtio-serial) device holds beyond its queues: each port's handshake
 * state with the driver, the host input not yet in guest buffers, how much of a transmit request
 * held back by a full backend was already sent, and the control messages
 * queued for the driver. Whether a backend has a peer is the host's business and is read again.
 *
 * @param ports           the configured ports, in configuration order
 * @param controlMessages control messages not yet delivered, oldest first
 */
public record VirtioConsoleState(List<Port> ports, List<Bytes> controlMessages) implements DeviceState {
    public static final int VERSION = 2;

    public VirtioConsoleState {
        ports = List.copyOf(ports);
        controlMessages = List.copyOf(controlMessages);
    }

    @Override
    public int version() {
        return VERSION;
    }

    /**
     * One port.
     *
     * @param id             its number on the device
     * @param ready          the driver sent PORT_READY
     * @param guestConnected the guest has the port open
     * @param input          host input not yet handed to the guest
     * @param transmitted    bytes of the request at the head of the transmitq the backend already
     *                       took (that request is still available: it is used once all are taken)
     */
    public record Port(int id, boolean ready, boolean guestConnected, Bytes input, long transmitted) {
    }
}
