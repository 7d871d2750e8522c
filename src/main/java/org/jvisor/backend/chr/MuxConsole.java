package org.jvisor.backend.chr;

import java.io.InputStream;
import java.io.OutputStream;

/**
 * QEMU's "mon:stdio" (the -nographic default): the host's stdio shared by the guest's console and
 * the human monitor. Both write to stdout at any time (QEMU 7.2 keeps printing guest output while
 * the monitor has the keyboard, checked); input goes to the one that has the focus, the console
 * first, and Ctrl-A c moves the focus. The monitor learns of the moves as connection changes: it
 * gets {@code connectionChanged(true)} when it takes the focus and {@code false} when it gives it
 * up, as QEMU's monitor gets CHR_EVENT_MUX_IN and MUX_OUT.
 */
public final class MuxConsole {
    private final StreamBackend stdio;
    private final EscapeFilter escapes;
    private final Front console = new Front(true);
    private final Front monitor = new Front(false);
    /** Input bytes for the focused front, delivered before the focus moves (input thread only). */
    private final byte[] pending = new byte[1024];
    private int pendingLength;
    private boolean monitorFocused;
    private boolean started;

    /** The console's and monitor's stdio: {@code out} and {@code in}; {@code actions} is Ctrl-A x's. */
    public MuxConsole(OutputStream out, InputStream in, EscapeFilter.Actions actions) {
        this.stdio = new StreamBackend(out, in);
        this.escapes = new EscapeFilter(actions, out, this::switchFocus);
    }

    /** The guest's side (a serial port). Closing it closes stdio. */
    public CharBackend console() {
        return console;
    }

    /** The human monitor's side. */
    public CharBackend monitor() {
        return monitor;
    }

    /** Input from stdin: escapes taken out, the rest to whichever side has the focus at that byte. */
    private synchronized void receive(byte[] data, int length) {
        for (int i = 0; i < length; i++) {
            int b = escapes.accept(data[i] & 0xFF);
            if (b >= 0) {
                pending[pendingLength++] = (byte) b;
                if (pendingLength == pending.length) {
                    deliver();
                }
            }
        }
        deliver();
    }

    private void deliver() {
        if (pendingLength > 0) {
            Front to = monitorFocused ? monitor : console;
            CharBackend.Sink sink = to.sink;
            if (sink != null) {
                sink.receive(pending, pendingLength);
            }
            pendingLength = 0;
        }
    }

    /** Ctrl-A c, on the input thread inside {@link #receive}: what was typed before it goes to the old side. */
    private void switchFocus() {
        deliver();
        monitorFocused = !monitorFocused;
        CharBackend.Sink m = monitor.sink;
        if (m != null) {
            m.connectionChanged(monitorFocused);
        }
    }

    /** Starts reading stdin once a side is ready for input. */
    private synchronized void startInput() {
        if (!started) {
            started = true;
            stdio.start(new CharBackend.Sink() {
                @Override
                public void receive(byte[] data, int length) {
                    MuxConsole.this.receive(data, length);
                }
            });
        }
    }

    /** One side: output straight to stdout, input as the focus gives it. */
    private final class Front implements CharBackend {
        private final boolean isConsole;
        private volatile Sink sink;

        Front(boolean isConsole) {
            this.isConsole = isConsole;
        }

        @Override
        public void write(int b) {
            stdio.write(b);
        }

        @Override
        public void write(byte[] data, int offset, int length) {
            stdio.write(data, offset, length);
        }

        @Override
        public void start(Sink s) {
            sink = s;
            startInput();   // whichever side is ready first: the other's input waits for its focus
        }

        @Override
        public void close() {
            if (isConsole) {
                stdio.close();
            } else {
                sink = null;
            }
        }
    }
}
