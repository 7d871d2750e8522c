package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.backend.chr.CharBackend;
import org.junit.jupiter.api.Test;

/**
 * The interactive human monitor over an in-memory character device: the bytes expected are what
 * qemu-system-x86_64 7.2 sent over socat for the same input (captured on the demo guest).
 */
class HmpSessionTest {
    private static final String ESC = "\033";

    /** A character device whose output is kept and whose input the test types. */
    private static final class Wire implements CharBackend {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        Sink sink;

        @Override
        public synchronized void write(int b) {
            out.write(b);
        }

        @Override
        public void start(Sink s) {
            sink = s;
        }

        @Override
        public void close() {
        }

        void type(String text) {
            byte[] b = text.getBytes(StandardCharsets.ISO_8859_1);
            sink.receive(b, b.length);
        }

        synchronized String take() {
            String s = out.toString(StandardCharsets.ISO_8859_1);
            out.reset();
            return s;
        }
    }

    private final List<String> ran = new ArrayList<>();
    private final HmpSession.Commands commands = (line, history) -> {
        if (line.isEmpty()) {
            return "";      // as HumanMonitor: an empty line prints nothing
        }
        ran.add(line);
        return line.equals("info status") ? "VM status: running\r\n" : "unknown command: '" + line + "'\r\n";
    };

    @Test
    void aSocketClientGetsTheBannerThePromptAndQemusEcho() {
        Wire w = new Wire();
        HmpSession s = new HmpSession(w, commands, HmpSession.Attachment.PER_CONNECTION);
        s.start();
        assertEquals("", w.take(), "nothing before a client connects");
        s.connectionChanged(true);
        assertEquals("QEMU 7.2.0 monitor - type 'help' for more information\r\n(qemu) ", w.take());
        w.type("info\n");
        assertEquals("i" + ESC + "[K" + ESC + "[Din" + ESC + "[K" + ESC + "[D" + ESC + "[Dinf" + ESC + "[K"
            + ESC + "[D" + ESC + "[D" + ESC + "[Dinfo" + ESC + "[K\r\nunknown command: 'info'\r\n(qemu) ", w.take());
        s.connectionChanged(false);
        s.connectionChanged(true);
        assertTrue(w.take().endsWith("QEMU 7.2.0 monitor - type 'help' for more information\r\n(qemu) "),
            "every client is greeted");
    }

    @Test
    void crLfIsALineAndAnEmptyLineAsInQemu() {
        Wire w = new Wire();
        HmpSession s = new HmpSession(w, commands, HmpSession.Attachment.ALWAYS);
        s.start();
        w.take();
        w.type("info status\r\n");
        String out = w.take();
        assertTrue(out.endsWith(ESC + "[K\r\nVM status: running\r\n(qemu) \r\n(qemu) "), out);
        assertEquals(List.of("info status"), ran);
    }

    @Test
    void theSharedConsoleGreetsOnceAndEndsTheLineItLeaves() {
        Wire w = new Wire();
        HmpSession s = new HmpSession(w, commands, HmpSession.Attachment.FOCUS);
        s.start();
        assertEquals("", w.take(), "the console has the focus first");
        s.connectionChanged(true);
        assertEquals(HmpSession.BANNER + "(qemu) ", w.take());
        w.type("sta");
        w.take();
        s.connectionChanged(false);
        assertEquals("\r\n", w.take());
        s.connectionChanged(true);
        assertEquals("(qemu) ", w.take(), "later switches give only the prompt");
        w.type("\n");
        assertTrue(ran.isEmpty(), "what was typed before the switch is gone, as in QEMU: " + ran);
        w.type("info status\n");
        assertEquals(List.of("info status"), ran);
    }

    @Test
    void garbageIsAnUnknownCommandNeverAFailure() {
        Wire w = new Wire();
        HmpSession s = new HmpSession(w, commands, HmpSession.Attachment.ALWAYS);
        s.start();
        w.take();
        // NUL, 0xff 0xfe, unknown CSI sequences, Ctrl-C and Ctrl-D are taken as QEMU takes them
        w.type("\u0000\u00ff\u00fe garbage " + ESC + "[Z" + ESC + "[99~\u0003\u0004hi\n");
        assertEquals(List.of("\u00ff\u00fe garbage hi"), ran);
        assertTrue(w.take().endsWith("unknown command: '\u00ff\u00fe garbage hi'\r\n(qemu) "));
    }
}
