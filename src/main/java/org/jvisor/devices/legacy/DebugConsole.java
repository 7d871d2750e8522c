package org.jvisor.devices.legacy;

import java.util.function.Consumer;

/**
 * QEMU's isa-debugcon at port 0x402, where SeaBIOS writes its debug log on QEMU (CONFIG_DEBUG_IO):
 * bytes written are collected into lines for {@code sink}; a read returns 0xE9, which SeaBIOS
 * takes as "the port is there".
 */
public final class DebugConsole implements org.jvisor.memory.BusDevice {
    public static final int PORT = 0x402;
    private static final int MAX_LINE = 1024;

    private final Consumer<String> sink;
    private final StringBuilder line = new StringBuilder();

    public DebugConsole(Consumer<String> sink) {
        this.sink = sink;
    }

    @Override
    public long read(long offset, int size) {
        return 0xE9;
    }

    @Override
    public void write(long offset, int size, long value) {
        String done = null;
        synchronized (this) {
            char c = (char) (value & 0xFF);
            if (c == '\n' || line.length() >= MAX_LINE) {
                done = line.toString();
                line.setLength(0);
            } else if (c != '\r') {
                line.append(c >= 0x20 && c < 0x7F ? c : '.');
            }
        }
        if (done != null) {
            sink.accept(done);
        }
    }
}
