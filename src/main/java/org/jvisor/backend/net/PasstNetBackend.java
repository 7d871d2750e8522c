package org.jvisor.backend.net;

import java.io.IOException;

/**
 * -netdev user: a {@link StreamNetBackend} connected to the {@link Passt} process jvisor started for
 * it. Closing closes the connection first (passt, run with -1, exits on its own) and then makes
 * sure the process is gone.
 */
public final class PasstNetBackend implements NetBackend {
    private final StreamNetBackend stream;
    private final Passt passt;

    public PasstNetBackend(StreamNetBackend stream, Passt passt) {
        this.stream = stream;
        this.passt = passt;
    }

    /** The passt process serving this netdev. */
    public ProcessHandle passtProcess() {
        return passt.process();
    }

    @Override
    public String describe() {
        return stream.describe();
    }

    @Override
    public int vnetHeaderSize() {
        return stream.vnetHeaderSize();
    }

    @Override
    public boolean carriesOffloads() {
        return stream.carriesOffloads();
    }

    @Override
    public void setOffloads(Offloads offloads) throws IOException {
        stream.setOffloads(offloads);
    }

    @Override
    public void send(byte[] buf, int length) {
        stream.send(buf, length);
    }

    @Override
    public int receive(byte[] buf) {
        return stream.receive(buf);
    }

    @Override
    public void setReceiveListener(Runnable listener) {
        stream.setReceiveListener(listener);
    }

    @Override
    public void armReceive() {
        stream.armReceive();
    }

    @Override
    public void disarmReceive() {
        stream.disarmReceive();
    }

    @Override
    public void close() {
        try {
            stream.close();
        } finally {
            passt.close();
        }
    }
}
