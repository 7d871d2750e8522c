package org.jvisor.backend.block.qcow2;

import java.io.IOException;

/** A qcow2 image jvisor cannot or must not open; the message names the file and what is wrong. */
public final class Qcow2FormatException extends IOException {
    public Qcow2FormatException(String message) {
        super(message);
    }

    public Qcow2FormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
