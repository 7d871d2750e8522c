package org.jvisor.config;

/** A block node that cannot be defined, removed or used, with the reason in QEMU's words where QEMU has them. */
public final class BlockNodeException extends Exception {
    public BlockNodeException(String message) {
        super(message);
    }
}
