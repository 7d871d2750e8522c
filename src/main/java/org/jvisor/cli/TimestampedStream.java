package org.jvisor.cli;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * -msg timestamp=on: each line of jvisor's messages starts with the time, as QEMU's error_report
 * writes it ("2026-12-05T06:58:03.123456Z "), so a management tool's log of the emulator's stderr
 * (libvirt's DOMAIN.log) tells when each message came.
 */
final class TimestampedStream extends FilterOutputStream {
    private static final DateTimeFormatter FORMAT = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z' ")
        .withZone(ZoneOffset.UTC);

    private boolean atLineStart = true;

    private TimestampedStream(OutputStream out) {
        super(out);
    }

    /** {@code err} with a timestamp in front of every line. */
    static PrintStream wrap(PrintStream err) {
        return new PrintStream(new TimestampedStream(err), true, StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void write(int b) throws IOException {
        if (atLineStart) {
            out.write(FORMAT.format(Instant.now()).getBytes(StandardCharsets.US_ASCII));
            atLineStart = false;
        }
        out.write(b);
        if (b == '\n') {
            atLineStart = true;
            out.flush();
        }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
        for (int i = 0; i < len; i++) {
            write(b[off + i]);
        }
    }
}
