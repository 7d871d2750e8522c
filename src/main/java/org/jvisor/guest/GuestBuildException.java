package org.jvisor.guest;

import java.io.IOException;

/** The demo guest cannot be built; the message says why in one line (no network, package missing, ...). */
public final class GuestBuildException extends IOException {
    private static final long serialVersionUID = 1L;

    public GuestBuildException(String message) {
        super(message);
    }

    public GuestBuildException(String message, Throwable cause) {
        super(message, cause);
    }
}
