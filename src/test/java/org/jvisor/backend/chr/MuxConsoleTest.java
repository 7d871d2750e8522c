package org.jvisor.backend.chr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** -serial mon:stdio: Ctrl-A c moves the keyboard between the guest's console and the monitor. */
class MuxConsoleTest {
    /** Records what a side receives and its focus changes, in order. */
    private static final class Recorder implements CharBackend.Sink {
        final LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();

        @Override
        public void receive(byte[] data, int length) {
            events.add(new String(data, 0, length, StandardCharsets.ISO_8859_1));
        }

        @Override
        public void connectionChanged(boolean connected) {
            events.add(connected ? "<in>" : "<out>");
        }

        String next() throws InterruptedException {
            String e = events.poll(30, TimeUnit.SECONDS);
            return e == null ? "<nothing>" : e;
        }
    }

    @Test
    void ctrlACSwitchesTheInputAndTheHelpSaysSo() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PipedOutputStream keyboard = new PipedOutputStream();
        List<String> quits = new ArrayList<>();
        MuxConsole mux = new MuxConsole(out, new PipedInputStream(keyboard), () -> quits.add("quit"));
        Recorder guest = new Recorder();
        Recorder monitor = new Recorder();
        mux.console().start(guest);
        mux.monitor().start(monitor);
        // one read holds bytes for both sides: each goes where the focus is at that byte
        keyboard.write("ls\u0001cinfo\u0001c\u0001\u0001x".getBytes(StandardCharsets.ISO_8859_1));
        keyboard.flush();
        assertEquals("ls", guest.next());
        assertEquals("<in>", monitor.next());
        assertEquals("info", monitor.next());
        assertEquals("<out>", monitor.next());
        assertEquals("\u0001x", guest.next(), "Ctrl-A Ctrl-A is one Ctrl-A for the guest");
        keyboard.write("\u0001h".getBytes(StandardCharsets.ISO_8859_1));
        keyboard.flush();
        for (int i = 0; i < 3000 && !out.toString(StandardCharsets.ISO_8859_1).contains("C-a C-a"); i++) {
            Thread.sleep(10);
        }
        assertTrue(out.toString(StandardCharsets.ISO_8859_1).contains("C-a c    switch between console and monitor\r\n"),
            out.toString(StandardCharsets.ISO_8859_1));
        mux.monitor().write("(qemu) ".getBytes(StandardCharsets.ISO_8859_1), 0, 7);
        mux.console().close();
        assertTrue(out.toString(StandardCharsets.ISO_8859_1).endsWith("(qemu) "), "both sides write to stdout");
        assertTrue(quits.isEmpty());
        keyboard.close();
    }
}
