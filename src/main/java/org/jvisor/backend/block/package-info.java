/**
 * Block backends: the host side of virtio-blk. {@link org.jvisor.backend.block.RawFileBackend}
 * serves raw images ({@code -drive file=F,format=raw[,readonly=on][,cache=none|writeback]}).
 */
package org.jvisor.backend.block;
