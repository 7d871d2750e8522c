/**
 * Entropy backends: the host side of a virtio-rng device, QEMU's rng backend objects.
 * {@link org.jvisor.backend.rng.BuiltinEntropy} is {@code -object rng-builtin} (and a virtio-rng
 * without {@code rng=}): the host's own generator. {@link org.jvisor.backend.rng.FileEntropy} is
 * {@code -object rng-random,filename=F}: the bytes a file gives, typically a character device such
 * as /dev/hwrng, read without waiting.
 */
package org.jvisor.backend.rng;
