package org.jvisor.qmp;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.jvisor.backend.chr.CharBackend;

/**
 * The interactive human monitor on a character device: QEMU 7.2's banner and "(qemu) " prompt,
 * its line editor's echo ({@link HmpReadline}), and each line run by the same {@link HumanMonitor}
 * that answers QMP's human-monitor-command. Commands run on the device's input thread, one at a
 * time, as QEMU runs them on its main loop; their output goes to the device.
 * <p>
 * When the banner comes is the device's: at once on stdio; for every client of a socket; the first
 * time Ctrl-A c gives the monitor the focus on a console it shares with the guest (later switches
 * give only the prompt, and leaving writes a line end) — each as QEMU 7.2 does, checked.
 */
final class HmpSession implements CharBackend.Sink {
    /** How the device comes and goes. */
    enum Attachment {
        /** Always there (stdio): greeted once, at start. */
        ALWAYS,
        /** A socket: every client is greeted. */
        PER_CONNECTION,
        /** A console shared with the guest: the banner at the first focus, the prompt at each. */
        FOCUS
    }

    /** What runs a line: the human monitor's commands ({@link HumanMonitor#run}). */
    @FunctionalInterface
    interface Commands {
        /** The output of {@code line} (CRLF line ends); {@code history} is the session's, oldest first. */
        String run(String line, List<String> history);
    }

    static final String BANNER = "QEMU " + QmpCommands.MAJOR + "." + QmpCommands.MINOR + "." + QmpCommands.MICRO
        + " monitor - type 'help' for more information\r\n";
    static final String PROMPT = "(qemu) ";

    private final CharBackend chr;
    private final Commands monitor;
    private final Attachment attachment;
    private final HmpReadline readline = new HmpReadline();
    private boolean greeted;

    HmpSession(CharBackend chr, Commands monitor, Attachment attachment) {
        this.chr = chr;
        this.monitor = monitor;
        this.attachment = attachment;
    }

    /** Starts taking input (and greets at once on an always-there device). */
    void start() {
        if (attachment == Attachment.ALWAYS) {
            connectionChanged(true);
        }
        chr.start(this);
    }

    @Override
    public synchronized void receive(byte[] data, int length) {
        StringBuilder echo = new StringBuilder();
        for (int i = 0; i < length; i++) {
            String line = readline.feed(data[i] & 0xFF, echo);
            if (line != null) {
                write(echo);
                echo.setLength(0);
                write(monitor.run(line.strip(), readline.history()));
                write(PROMPT);
            }
        }
        write(echo);
    }

    @Override
    public synchronized void connectionChanged(boolean connected) {
        readline.reset();
        if (!connected) {
            if (greeted) {
                write("\r\n");      // QEMU's monitor on MUX_OUT: the line it leaves is ended
            }
            return;
        }
        if (!greeted || attachment == Attachment.PER_CONNECTION) {
            write(BANNER);
        }
        greeted = true;
        write(PROMPT);
    }

    private void write(CharSequence text) {
        if (!text.isEmpty()) {
            byte[] bytes = text.toString().getBytes(StandardCharsets.ISO_8859_1);
            chr.write(bytes, 0, bytes.length);
        }
    }
}
