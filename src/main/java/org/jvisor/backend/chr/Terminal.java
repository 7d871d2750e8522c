package org.jvisor.backend.chr;

import org.jvisor.sys.SysException;
import org.jvisor.sys.Termios;

/**
 * Raw mode for the host terminal on stdin, as QEMU's -nographic sets it: every key goes to the
 * guest unprocessed (Ctrl-C included), output is not post-processed. The saved settings are
 * restored by {@link #restore()}, which is idempotent and safe to call from a shutdown hook.
 */
public final class Terminal {
    private static final int STDIN = 0;

    private Termios saved;

    public static boolean stdinIsTerminal() {
        return Termios.isTerminal(STDIN);
    }

    /** Puts stdin in raw mode if it is a terminal; returns whether it did. */
    public synchronized boolean enterRawMode() {
        if (saved != null || !stdinIsTerminal()) {
            return false;
        }
        try {
            Termios current = Termios.get(STDIN);
            // Keep output post-processing (OPOST) so guest "\n" still returns the carriage, as QEMU does.
            Termios raw = current.raw();
            raw.withOflag(raw.oflag() | Termios.OPOST).set(STDIN, Termios.TCSANOW);
            saved = current;
            return true;
        } catch (SysException e) {
            return false; // the console then stays cooked: usable, only line-buffered
        }
    }

    /** Restores the settings saved by {@link #enterRawMode()}. */
    public synchronized void restore() {
        if (saved == null) {
            return;
        }
        try {
            saved.set(STDIN, Termios.TCSANOW);
        } catch (SysException e) {
            // nothing more we can do for the terminal
        }
        saved = null;
    }
}
