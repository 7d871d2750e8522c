package org.jvisor.backend.chr;

/** -serial none: output is discarded, no input ever arrives. */
public final class NullBackend implements CharBackend {
    @Override
    public void write(int b) {
    }

    @Override
    public void start(Sink sink) {
    }

    @Override
    public void close() {
    }
}
