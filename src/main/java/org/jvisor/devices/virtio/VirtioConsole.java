package org.jvisor.devices.virtio;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jvisor.backend.chr.CharBackend;
import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * virtio-console (virtio 1.2, 5.3) as QEMU's virtio-serial: VIRTIO_CONSOLE_F_MULTIPORT with up to
 * {@code max_nr_ports} ports, each a pair of queues on a character backend. Port 0's queues are
 * 0 and 1, the control queues 2 and 3, port n's 2n+2 and 2n+3.
 *
 * <p>The driver starts the handshake with DEVICE_READY; the device answers DEVICE_ADD (Linux's
 * PORT_ADD) per port; for each PORT_READY it sends CONSOLE_PORT for a console port (the guest's
 * hvcN), PORT_NAME for a named port (/sys/class/virtio-ports/vportNpM/name) and PORT_OPEN when the
 * backend has a peer. The guest's PORT_OPEN opens the port: host input is held until then, since
 * Linux discards input for a port nobody has open. Without MULTIPORT only port 0 exists, open.
 *
 * <p>Threads: queue processing runs on the transport's executor; host input arrives on the
 * backends' threads, is buffered in the {@link ConsolePort} and handed to the processing thread
 * with {@link VirtioInterrupt#backendReady}, so every ring access happens under the core's queue monitor.
 */
public final class VirtioConsole implements VirtioDevice {
    public static final int F_SIZE = 0;
    public static final int F_MULTIPORT = 1;
    public static final int F_EMERG_WRITE = 2;

    public static final int CONTROL_RECEIVEQ = 2;
    public static final int CONTROL_TRANSMITQ = 3;
    public static final int QUEUE_SIZE = 128;
    public static final int CONTROL_QUEUE_SIZE = 32;
    /** QEMU's default max_ports. */
    public static final int DEFAULT_MAX_PORTS = 31;
    /** QEMU's limit: (VIRTIO_QUEUE_MAX / 2) - 1. */
    public static final int MAX_PORTS_LIMIT = 511;

    // Configuration space (5.3.4): cols, rows, max_nr_ports, emerg_wr
    static final int CONFIG_COLS = 0;
    static final int CONFIG_ROWS = 2;
    static final int CONFIG_MAX_NR_PORTS = 4;
    static final int CONFIG_EMERG_WR = 8;
    private static final int CONFIG_SIZE = 12;
    private static final int MAX_LOGGED = 20;
    private static final byte[] NO_DATA = new byte[0];

    /** A port to create: {@code id} is its number on the device (0 to max_nr_ports - 1). */
    public record PortSpec(int id, String name, boolean console, CharBackend backend) {
    }

    private final int maxPorts;
    private final ConsolePort[] ports;
    private final List<ConsolePort> portList = new ArrayList<>();
    private final ConfigSpace config = new ConfigSpace(CONFIG_SIZE);
    private final Consumer<String> log;
    private final ArrayDeque<byte[]> controlOut = new ArrayDeque<>();
    private final SplitVirtqueue.RequestHandler controlHandler = this::control;
    private int logged;

    private volatile SplitVirtqueue[] queues;
    private volatile VirtioInterrupt interrupt;
    private volatile boolean multiport;

    public VirtioConsole(int maxPorts, List<PortSpec> specs, Consumer<String> log) {
        if (maxPorts < 1 || maxPorts > MAX_PORTS_LIMIT) {
            throw new IllegalArgumentException("virtio-serial: max_ports " + maxPorts + " is out of range (1-" + MAX_PORTS_LIMIT + ")");
        }
        this.maxPorts = maxPorts;
        this.log = log;
        this.ports = new ConsolePort[maxPorts];
        for (PortSpec s : specs) {
            if (s.id() < 0 || s.id() >= maxPorts) {
                throw new IllegalArgumentException("virtio-serial: port " + s.id() + " is beyond max_ports " + maxPorts);
            }
            if (ports[s.id()] != null) {
                throw new IllegalArgumentException("virtio-serial: two ports numbered " + s.id());
            }
            ConsolePort p = new ConsolePort(s.id(), s.name(), s.console(), s.backend(), this);
            ports[s.id()] = p;
            portList.add(p);
        }
        config.put32(CONFIG_MAX_NR_PORTS, maxPorts);
    }

    /** Starts taking host input on every port's backend. */
    public void start() {
        for (ConsolePort p : portList) {
            p.start();
        }
    }

    /** Stops waiting for guest buffers: a backend thread blocked on a full port returns. */
    public void close() {
        for (ConsolePort p : portList) {
            p.close();
        }
    }

    /** The character backends of the ports, in configuration order. */
    public List<CharBackend> backends() {
        return portList.stream().map(p -> p.backend).toList();
    }

    /** Port {@code id}'s receiveq (host to guest); its transmitq is the next one. */
    public static int receiveq(int port) {
        return port == 0 ? 0 : 2 * port + 2;
    }

    /** Host input bytes of port {@code id} not yet in guest buffers (for tests). */
    public int pendingInput(int id) {
        return ports[id].pendingInput();
    }

    @Override
    public int deviceType() {
        return Virtio.ID_CONSOLE;
    }

    @Override
    public String name() {
        return "virtio-serial";
    }

    @Override
    public long deviceFeatures() {
        return Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_RING_INDIRECT_DESC)
            | Virtio.bit(Virtio.F_RING_EVENT_IDX) | Virtio.bit(F_MULTIPORT) | Virtio.bit(F_EMERG_WRITE);
    }

    @Override
    public int queueCount() {
        return 2 * (maxPorts + 1);
    }

    @Override
    public int queueMaxSize(int queue) {
        return queue == CONTROL_RECEIVEQ || queue == CONTROL_TRANSMITQ ? CONTROL_QUEUE_SIZE : QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        return config.read(offset, size);
    }

    /** emerg_wr (5.3.4): the driver writes one character for port 0 without using a queue. */
    @Override
    public void writeConfig(int offset, int size, long value) {
        if (offset == CONFIG_EMERG_WR && ports[0] != null) {
            // From the vCPU, which must not wait on a peer: a full backend loses the character, as
            // QEMU's (virtconsole.c flush_buf drops what the chardev does not take for a console).
            ports[0].backend.offer((int) value & 0xFF);
        }
    }

    @Override
    public void activate(SplitVirtqueue[] queues, long features, VirtioInterrupt interrupt) {
        this.queues = queues;
        this.multiport = Virtio.has(features, F_MULTIPORT);
        if (!multiport && ports[0] != null) {
            // Without MULTIPORT port 0 is the console and there is nothing to open (5.3.6).
            ports[0].ready = true;
            ports[0].guestConnected = true;
        }
        this.interrupt = interrupt;
    }

    @Override
    public void reset() {
        interrupt = null;
        queues = null;
        multiport = false;
        synchronized (controlOut) {
            controlOut.clear();
        }
        for (ConsolePort p : portList) {
            p.ready = false;
            p.guestConnected = false;
            p.transmitted(0);
        }
    }

    @Override
    public DeviceState saveState() {
        List<VirtioConsoleState.Port> ps = new ArrayList<>();
        for (ConsolePort p : portList) {
            ps.add(new VirtioConsoleState.Port(p.id, p.ready, p.guestConnected, p.savedInput(), p.transmitted()));
        }
        List<Bytes> control = new ArrayList<>();
        synchronized (controlOut) {
            for (byte[] m : controlOut) {
                control.add(Bytes.copyOf(m));
            }
        }
        return new VirtioConsoleState(ps, control);
    }

    /** Takes back each port's handshake state and pending input, and the undelivered control messages. */
    @Override
    public void restoreState(DeviceState state) throws DeviceStateException {
        if (!(state instanceof VirtioConsoleState s)) {
            throw DeviceStateException.wrongKind(name(), VirtioConsoleState.class, state);
        }
        DeviceStateException.checkLength(name(), "ports", s.ports().size(), portList.size());
        for (int i = 0; i < portList.size(); i++) {
            VirtioConsoleState.Port p = s.ports().get(i);
            if (p.id() != portList.get(i).id) {
                throw new DeviceStateException(name() + ": port " + p.id() + " is in the state where port "
                    + portList.get(i).id + " is configured here");
            }
            DeviceStateException.checkRange(name(), "port " + p.id() + " pending input bytes", p.input().length(), 0,
                ConsolePort.INPUT_BUFFER);
            if (p.transmitted() < 0 || p.transmitted() > 0xFFFF_FFFFL * SplitVirtqueue.MAX_INDIRECT) {
                throw new DeviceStateException(name() + ": port " + p.id() + " has " + p.transmitted()
                    + " bytes of a transmit request sent, more than a request can hold");
            }
        }
        for (Bytes m : s.controlMessages()) {
            DeviceStateException.checkRange(name(), "control message bytes", m.length(), ConsoleControl.HEADER,
                Integer.MAX_VALUE);
        }
        for (int i = 0; i < portList.size(); i++) {
            VirtioConsoleState.Port p = s.ports().get(i);
            ConsolePort port = portList.get(i);
            port.ready = p.ready();
            port.guestConnected = p.guestConnected();
            port.restoreInput(p.input());
            port.transmitted(p.transmitted());
        }
        synchronized (controlOut) {
            controlOut.clear();
            for (Bytes m : s.controlMessages()) {
                controlOut.add(m.toArray());
            }
        }
    }

    @Override
    public void processQueue(int q) throws VirtqueueException {
        SplitVirtqueue[] qs = queues;
        VirtioInterrupt irq = interrupt;
        if (qs == null || irq == null || q < 0 || q >= qs.length) {
            return;
        }
        if (q >= 2 && !multiport) {
            return; // without MULTIPORT only port 0's queues exist (5.3.2)
        }
        if (q == CONTROL_RECEIVEQ || q == CONTROL_TRANSMITQ) {
            boolean notify = q == CONTROL_RECEIVEQ ? sendControl(qs[q]) : qs[q].drain(controlHandler);
            if (notify) {
                irq.usedBuffer(q);
            }
            return;
        }
        int id = q < 2 ? 0 : (q - 2) / 2;
        ConsolePort port = ports[id];
        boolean notify;
        if (q % 2 == 0) {
            notify = port != null && deliverInput(port, qs[q]);
        } else {
            if (port == null) {
                throw new VirtqueueException("virtio-serial: the driver transmitted on queue " + q + " of port " + id
                    + ", which the device never added");
            }
            notify = transmit(port, qs[q]);
        }
        if (notify) {
            irq.usedBuffer(q);
        }
    }

    /**
     * Moves host input into the receiveq's buffers while there is both. Out of buffers, it asks
     * for a notification so the driver's next buffer brings the processing back here.
     */
    private boolean deliverInput(ConsolePort port, SplitVirtqueue q) throws VirtqueueException {
        if (!port.guestConnected) {
            return false;
        }
        boolean used = false;
        while (port.hasInput()) {
            DescriptorChain c = q.pop();
            if (c == null) {
                q.setNotification(true);
                if (!q.hasAvailable()) {
                    break;
                }
                continue;
            }
            if (c.readableCount() != 0) {
                throw new VirtqueueException(String.format(
                    "virtio-serial port %d receiveq: buffer %d is device-readable", port.id, c.head()));
            }
            q.push(c.head(), port.moveInputTo(c));
            used = true;
        }
        return used && q.needsNotification();
    }

    /**
     * Sends the port's transmit requests to its backend, each returned to the driver only once the
     * backend took all of it. When the backend is full the request stays available, notifications
     * stay off (the driver need not kick: nothing would move) and the backend's writable callback
     * brings the processing back, so there is no polling. QEMU drops console-port output here
     * instead (virtconsole.c flush_buf, because Linux's hvc writes with a spinlock held); the
     * issue asks for backpressure, so hvc waits as on a slow line and the monitor stays free.
     */
    private boolean transmit(ConsolePort port, SplitVirtqueue q) throws VirtqueueException {
        boolean used = false;
        do {
            q.setNotification(false);
            DescriptorChain c;
            while ((c = q.pop()) != null) {
                if (!port.transmit(c)) {
                    q.unpop(1);
                    port.backend.whenWritable(port.resumeTransmit);
                    return used && q.needsNotification();
                }
                q.push(c.head(), 0);
                used = true;
            }
            q.setNotification(true);
        } while (q.hasAvailable());
        return used && q.needsNotification();
    }

    /** From a backend's thread: it has room again, so a transmitq it held back moves on. */
    void backendWritable(ConsolePort port) {
        VirtioInterrupt irq = interrupt;
        if (irq != null) {
            irq.backendReady(receiveq(port.id) + 1);
        }
    }

    /** Hands queued control messages to the driver's control receiveq buffers. */
    private boolean sendControl(SplitVirtqueue q) throws VirtqueueException {
        boolean used = false;
        while (true) {
            byte[] msg;
            synchronized (controlOut) {
                msg = controlOut.peek();
            }
            if (msg == null) {
                break;
            }
            DescriptorChain c = q.pop();
            if (c == null) {
                q.setNotification(true);
                if (!q.hasAvailable()) {
                    break;
                }
                continue;
            }
            if (c.readableCount() != 0 || c.writableBytes() < ConsoleControl.HEADER) {
                throw new VirtqueueException(String.format(
                    "virtio-serial control receiveq: buffer %d has %d readable and %d writable bytes (needs %d writable)",
                    c.head(), c.readableBytes(), c.writableBytes(), ConsoleControl.HEADER));
            }
            int n = c.write(0, msg, 0, (int) Math.min(msg.length, c.writableBytes()));
            q.push(c.head(), n);
            used = true;
            synchronized (controlOut) {
                controlOut.poll();
            }
        }
        return used && q.needsNotification();
    }

    private void queueControl(int port, ConsoleControl event, int value, byte[] data) {
        synchronized (controlOut) {
            controlOut.add(event.message(port, value, data));
        }
        VirtioInterrupt irq = interrupt;
        if (irq != null) {
            irq.backendReady(CONTROL_RECEIVEQ);
        }
    }

    /** One message on the control transmitq (driver to device). */
    private int control(DescriptorChain c) throws VirtqueueException {
        if (c.writableCount() != 0 || c.readableBytes() < ConsoleControl.HEADER) {
            throw new VirtqueueException(String.format(
                "virtio-serial control message %d: %d readable and %d writable bytes (a message is %d readable bytes)",
                c.head(), c.readableBytes(), c.writableBytes(), ConsoleControl.HEADER));
        }
        int id = c.readU32(0);
        int eventValue = c.readU32(4);
        int code = eventValue & 0xFFFF;
        int value = eventValue >>> 16;
        ConsoleControl event = ConsoleControl.of(code);
        ConsolePort port = id >= 0 && id < maxPorts ? ports[id] : null;
        if (event == ConsoleControl.DEVICE_READY) {
            if (value != 1) {
                warn("the driver reports it failed to initialise the device (DEVICE_READY " + value + ")");
                return 0;
            }
            for (ConsolePort p : portList) {
                queueControl(p.id, ConsoleControl.DEVICE_ADD, 1, NO_DATA);
            }
        } else if (event == ConsoleControl.PORT_READY || event == ConsoleControl.PORT_OPEN) {
            if (port == null) {
                warn(event + " for port " + Integer.toUnsignedString(id) + ", which the device never added (ignored)");
            } else if (event == ConsoleControl.PORT_READY) {
                portReady(port, value);
            } else {
                port.guestConnected = value != 0;
                if (port.guestConnected && port.hasInput()) {
                    inputArrived(port);
                }
            }
        } else {
            warn("control event " + (event != null ? event : code) + " from the driver is not one it sends (ignored)");
        }
        return 0;
    }

    /** The guest created its side of the port: tell it what the port is and whether the host is there. */
    private void portReady(ConsolePort port, int value) {
        if (value != 1) {
            warn("the guest failed to add port " + port.id);
            return;
        }
        port.ready = true;
        if (port.console) {
            queueControl(port.id, ConsoleControl.CONSOLE_PORT, 1, NO_DATA);
        }
        if (port.name != null) {
            byte[] name = (port.name + "\0").getBytes(StandardCharsets.UTF_8);
            queueControl(port.id, ConsoleControl.PORT_NAME, 1, name);
        }
        if (port.hostConnected) {
            queueControl(port.id, ConsoleControl.PORT_OPEN, 1, NO_DATA);
        }
    }

    /** From a backend's thread: new input for {@code port}. */
    void inputArrived(ConsolePort port) {
        VirtioInterrupt irq = interrupt;
        if (irq != null && port.guestConnected) {
            irq.backendReady(receiveq(port.id));
        }
    }

    /** From a backend's thread: its peer came or went; a port the guest knows hears PORT_OPEN. */
    void hostConnectionChanged(ConsolePort port, boolean connected) {
        if (multiport && port.ready) {
            queueControl(port.id, ConsoleControl.PORT_OPEN, connected ? 1 : 0, NO_DATA);
        }
    }

    private void warn(String msg) {
        if (logged < MAX_LOGGED) {
            logged++;
            log.accept(name() + ": " + msg);
        }
    }
}
