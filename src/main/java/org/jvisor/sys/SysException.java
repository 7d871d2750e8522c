package org.jvisor.sys;

import java.io.IOException;

/**
 * A system call failed. The message names the call with its important argument and the errno by
 * name and text: {@code open(/x/y.img, O_RDWR): ENOENT (No such file or directory)}.
 *
 * <p>Checked, as the JDK's own I/O failures are: the backends that open images and devices already
 * speak IOException and pass it on with their context, and the engine wraps it into its own
 * exception where a failure is a broken VM rather than bad input.
 */
public final class SysException extends IOException {
    private final String call;
    private final int code;

    /** {@code call} is the call and its argument as the message shows them: "open(/x/y.img, O_RDWR)". */
    public SysException(String call, int errno) {
        super(call + ": " + Errno.describe(errno));
        this.call = call;
        this.code = errno;
    }

    /** The call and its argument, as in the message. */
    public String call() {
        return call;
    }

    /** The errno as a constant ({@link Errno#UNKNOWN} for a number outside the table). */
    public Errno errno() {
        return Errno.of(code);
    }

    /** The raw errno number. */
    public int code() {
        return code;
    }

    /** Whether the call failed with {@code e}. */
    public boolean is(Errno e) {
        return code == e.code();
    }
}
