package org.jvisor.export;

import org.jvisor.devices.virtio.SplitVirtqueue;

/** What a vhost-user backend serves: the device's features, queues, config space and request logic. */
public interface VhostUserBackendDevice {
    /** The device as log lines name it. */
    String name();

    /** The virtio device features offered (VIRTIO_F_VERSION_1 and the ring features included). */
    long features();

    /** How many queues the frontend may use (GET_QUEUE_NUM). */
    int queueCount();

    /** The device's config space as GET_CONFIG reads it. */
    byte[] config();

    /** The request logic of queue {@code index}; called once per queue and connection. */
    SplitVirtqueue.RequestHandler handler(int index);
}
