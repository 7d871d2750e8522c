/**
 * The qcow2 image format (QEMU docs/interop/qcow2.txt, versions 2 and 3) as a block backend:
 * {@link org.jvisor.backend.block.qcow2.Qcow2HeaderParser} checks the header,
 * {@link org.jvisor.backend.block.qcow2.Refcounts} counts and allocates host clusters,
 * {@code TableCache} holds L2 tables and refcount blocks,
 * {@link org.jvisor.backend.block.qcow2.Qcow2Backend} maps guest offsets and orders metadata
 * writes so a crash leaves at worst leaked clusters, and
 * {@link org.jvisor.backend.block.qcow2.Qcow2Creator} writes new images (-snapshot overlays).
 */
package org.jvisor.backend.block.qcow2;
