package org.jvisor.backend.vhost;

import java.io.IOException;

/**
 * The vhost-user backend broke the protocol (a malformed or unexpected reply), refused a request,
 * or the connection failed; the message says which, naming the request.
 */
public final class VhostUserException extends IOException {
    public VhostUserException(String message) {
        super(message);
    }

    public VhostUserException(String message, Throwable cause) {
        super(message, cause);
    }
}
