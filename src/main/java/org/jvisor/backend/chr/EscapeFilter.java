package org.jvisor.backend.chr;

import java.io.OutputStream;
import java.io.PrintStream;

/**
 * QEMU's console escape: Ctrl-A then a key. Ctrl-A x quits, Ctrl-A h lists the keys, Ctrl-A Ctrl-A
 * sends one Ctrl-A to the guest; anything else after Ctrl-A is dropped. Everything else passes.
 */
public final class EscapeFilter {
    public static final int CTRL_A = 0x01;

    /** What the VMM does for an escape command. */
    public interface Actions {
        void quit();
    }

    private final Actions actions;
    private final PrintStream console;
    private boolean escaped;

    public EscapeFilter(Actions actions, OutputStream console) {
        this.actions = actions;
        this.console = new PrintStream(console, true);
    }

    static final String HELP = "\r\nC-a h    print this help\r\nC-a x    exit jvisor\r\nC-a C-a  send C-a\r\n";

    /** Filters {@code data} in place; returns how many bytes remain for the guest. */
    public int filter(byte[] data, int length) {
        int out = 0;
        for (int i = 0; i < length; i++) {
            int b = data[i] & 0xFF;
            if (escaped) {
                escaped = false;
                switch (b) {
                    case 'x', 'X' -> {
                        console.print("\r\njvisor: terminated (C-a x)\r\n");
                        actions.quit();
                    }
                    case 'h', 'H', '?' -> console.print(HELP);
                    case CTRL_A -> data[out++] = (byte) CTRL_A;
                    default -> {
                        // unknown escape: dropped, as QEMU does
                    }
                }
            } else if (b == CTRL_A) {
                escaped = true;
            } else {
                data[out++] = (byte) b;
            }
        }
        return out;
    }
}
