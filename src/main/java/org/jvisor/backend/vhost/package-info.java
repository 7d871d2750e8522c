/**
 * The frontend side of the vhost-user protocol (QEMU's docs/interop/vhost-user.rst): a device's
 * queues processed by another process (qemu-storage-daemon, virtiofsd) that maps guest RAM from
 * descriptors jvisor sends it. {@link org.jvisor.backend.vhost.VhostUserMessage} encodes and
 * decodes messages, {@link org.jvisor.backend.vhost.VhostUserChannel} moves them with their
 * descriptors over the Unix socket, {@link org.jvisor.backend.vhost.VhostUserFrontend} speaks
 * the protocol in QEMU 7.2's order.
 */
package org.jvisor.backend.vhost;
