package org.jvisor.devices.virtio;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import org.jvisor.backend.net.NetBackend;
import org.jvisor.backend.net.Offloads;

/** An in-memory network backend: frames the test injects, frames the device sent, the arming protocol. */
public final class FakeNetBackend implements NetBackend {
    final Deque<byte[]> inbound = new ArrayDeque<>();
    public final List<byte[]> sent = new ArrayList<>();
    Offloads offloads;
    boolean armed;
    int receives;
    boolean failSend;
    private Runnable listener;

    /** A frame arrives from the host: queued, and the listener called if the device armed. */
    public void inject(byte[] frame) {
        inbound.add(frame);
        if (armed) {
            armed = false;
            listener.run();
        }
    }

    @Override
    public String describe() {
        return "-netdev fake";
    }

    @Override
    public boolean carriesOffloads() {
        return true;
    }

    @Override
    public int vnetHeaderSize() {
        return VirtioNet.HDR_SIZE;
    }

    @Override
    public void setOffloads(Offloads offloads) {
        this.offloads = offloads;
    }

    @Override
    public void send(byte[] buf, int length) throws IOException {
        if (failSend) {
            throw new IOException("link broken");
        }
        sent.add(Arrays.copyOf(buf, length));
    }

    @Override
    public int receive(byte[] buf) {
        receives++;
        byte[] f = inbound.poll();
        if (f == null) {
            return 0;
        }
        System.arraycopy(f, 0, buf, 0, f.length);
        return f.length;
    }

    @Override
    public void setReceiveListener(Runnable listener) {
        this.listener = listener;
    }

    @Override
    public void armReceive() {
        armed = true;
        if (!inbound.isEmpty()) {
            armed = false;
            listener.run();
        }
    }

    @Override
    public void disarmReceive() {
        armed = false;
    }

    @Override
    public void close() {
    }
}
