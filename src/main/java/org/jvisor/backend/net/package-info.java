/**
 * Network backends: the host side of a virtio-net device. {@link org.jvisor.backend.net.NetBackend}
 * moves whole frames, each preceded by the virtio-net header, so checksum and segmentation offloads
 * pass through to the host kernel where the backend carries them; {@link org.jvisor.backend.net.TapBackend}
 * is a TAP device. {@link org.jvisor.backend.net.StreamNetBackend} is -netdev stream (QEMU 7.2's
 * length-prefixed frames on a socket, with {@link org.jvisor.backend.net.StreamFrameDecoder} and
 * {@link org.jvisor.backend.net.StreamFrameEncoder}), and {@link org.jvisor.backend.net.Passt}
 * runs passt for -netdev user ({@link org.jvisor.backend.net.PasstNetBackend}).
 */
package org.jvisor.backend.net;
