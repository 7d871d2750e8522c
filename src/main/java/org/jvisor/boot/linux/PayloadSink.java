package org.jvisor.boot.linux;

import org.jvisor.boot.BootException;

/**
 * Where a streamed payload decompression delivers its output: piece after piece, in order and
 * without gaps. {@code b[off, off + len)} are the decompressed bytes from stream offset
 * {@code position}; the array is the decoder's reusable buffer, valid only during the call.
 */
@FunctionalInterface
interface PayloadSink {
    void accept(byte[] b, int off, int len, long position) throws BootException;
}
