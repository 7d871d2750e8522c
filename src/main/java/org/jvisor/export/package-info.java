/**
 * jvisor's devices served to another VMM (QEMU's block exports): a vhost-user backend
 * (vhost-user.rst, "Back-end program conventions") that a frontend such as QEMU 7.2's
 * {@code -device vhost-user-blk-pci} drives over a Unix socket. {@link org.jvisor.export.VhostUserServer}
 * accepts frontends one after another, {@link org.jvisor.export.VhostUserBackend} speaks the
 * protocol on one connection and serves its rings, {@link org.jvisor.export.VhostUserBlkDevice}
 * is the disk behind them, executing requests with the VMM's own virtio-blk logic.
 */
package org.jvisor.export;
