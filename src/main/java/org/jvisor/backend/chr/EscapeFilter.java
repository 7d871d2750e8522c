package org.jvisor.backend.chr;

import java.io.OutputStream;
import java.io.PrintStream;

/**
 * QEMU's console escape: Ctrl-A then a key. Ctrl-A x quits, Ctrl-A h lists the keys, Ctrl-A Ctrl-A
 * sends one Ctrl-A to the guest; on a console shared with the human monitor ({@link MuxConsole}),
 * Ctrl-A c switches between the two. Anything else after Ctrl-A is dropped. Everything else passes.
 */
public final class EscapeFilter {
    public static final int CTRL_A = 0x01;

    /** What the VMM does for an escape command. */
    public interface Actions {
        void quit();
    }

    private final Actions actions;
    private final PrintStream console;
    /** Ctrl-A c's action, or null on a console that has no monitor to switch to. */
    private final Runnable switchFocus;
    private boolean escaped;

    public EscapeFilter(Actions actions, OutputStream console) {
        this(actions, console, null);
    }

    /** With {@code switchFocus}, Ctrl-A c runs it (QEMU's mux: console and monitor take turns). */
    public EscapeFilter(Actions actions, OutputStream console, Runnable switchFocus) {
        this.actions = actions;
        this.console = new PrintStream(console, true);
        this.switchFocus = switchFocus;
    }

    static final String HELP = "\r\nC-a h    print this help\r\nC-a x    exit jvisor\r\nC-a C-a  send C-a\r\n";
    /** QEMU 7.2's line for the mux's switch, in its place in the list (after x, before C-a C-a). */
    static final String SWITCH_HELP = "C-a c    switch between console and monitor\r\n";

    private String help() {
        if (switchFocus == null) {
            return HELP;
        }
        int last = HELP.indexOf("C-a C-a");
        return HELP.substring(0, last) + SWITCH_HELP + HELP.substring(last);
    }

    /** Filters {@code data} in place; returns how many bytes remain for the guest. */
    public int filter(byte[] data, int length) {
        int out = 0;
        for (int i = 0; i < length; i++) {
            int b = accept(data[i] & 0xFF);
            if (b >= 0) {
                data[out++] = (byte) b;
            }
        }
        return out;
    }

    /**
     * One byte of input: the byte that passes (a Ctrl-A Ctrl-A passes one Ctrl-A), or -1 when the
     * escape took it; an escape's action runs before this returns.
     */
    public int accept(int b) {
        if (escaped) {
            escaped = false;
            switch (b) {
                case 'x', 'X' -> {
                    console.print("\r\njvisor: terminated (C-a x)\r\n");
                    actions.quit();
                }
                case 'h', 'H', '?' -> console.print(help());
                case 'c', 'C' -> {
                    if (switchFocus != null) {
                        switchFocus.run();
                    }
                }
                case CTRL_A -> {
                    return CTRL_A;
                }
                default -> {
                    // unknown escape: dropped, as QEMU does
                }
            }
            return -1;
        }
        if (b == CTRL_A) {
            escaped = true;
            return -1;
        }
        return b;
    }
}
