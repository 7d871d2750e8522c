/**
 * Block backends: the host side of virtio-blk. {@link org.jvisor.backend.block.BlockImages}
 * opens every disk image ({@code -drive file=F[,format=raw|qcow2][,readonly=on]
 * [,cache=none|writeback][,snapshot=on]}): {@link org.jvisor.backend.block.RawFileBackend} for raw
 * images (and as the host file under a qcow2 image), {@link org.jvisor.backend.block.qcow2} for
 * qcow2, {@link org.jvisor.backend.block.ProbedRawBackend} for raw images whose format was probed.
 */
package org.jvisor.backend.block;
