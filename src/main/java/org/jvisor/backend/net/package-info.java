/**
 * Network backends: the host side of a virtio-net device. {@link org.jvisor.backend.net.NetBackend}
 * moves whole frames, each preceded by the virtio-net header, so checksum and segmentation offloads
 * pass through to the host kernel; {@link org.jvisor.backend.net.TapBackend} is a TAP device.
 */
package org.jvisor.backend.net;
