/**
 * The vhost-user protocol (QEMU's docs/interop/vhost-user.rst), both sides of it. As the frontend,
 * a device's queues are processed by another process (qemu-storage-daemon, virtiofsd) that maps
 * guest RAM from descriptors jvisor sends it: {@link org.jvisor.backend.vhost.VhostUserFrontend}
 * speaks the protocol in QEMU 7.2's order. As the backend ({@link org.jvisor.export}), jvisor
 * maps another VMM's RAM: {@link org.jvisor.backend.vhost.VhostUserMemoryMap} is that memory
 * table, every access checked. Both use one codec, {@link org.jvisor.backend.vhost.VhostUserMessage},
 * and one {@link org.jvisor.backend.vhost.VhostUserChannel}, which moves whole messages with their
 * descriptors over the Unix socket (replies for a frontend, requests for a backend).
 */
package org.jvisor.backend.vhost;
