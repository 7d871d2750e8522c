package org.jvisor.gdb;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;

import org.jvisor.cpu.DebugControl;
import org.jvisor.cpu.X86State;

/**
 * One gdb client's conversation (GDB manual, appendix E), in all-stop mode: the machine stops
 * when the client connects (as QEMU's gdbstub stops the VM), runs on {@code c}/{@code s}/{@code
 * vCont}, and every stop (breakpoint, step, Ctrl-C) stops all vCPUs. Replies follow what QEMU 7.2
 * sends, checked with a raw client: E22 for a malformed packet or an unknown thread, E14 for
 * memory that is not mapped or a register that does not exist, an empty reply for what is not
 * supported. A client's mistakes end in an error reply, never in the machine.
 */
public final class GdbSession implements Runnable {
    /** What the session loop acts on, from the client's reader or from the machine. */
    private sealed interface Input {
    }

    private record FromClient(RspChannel.Received received) implements Input {
    }

    private record Stopped(int vcpu) implements Input {
    }

    private record Closed() implements Input {
    }

    /** What qSupported announces: QEMU 7.2's answer, and no-ack mode, which QEMU added later. */
    static final String SUPPORTED = "PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+;QStartNoAckMode+";
    /** The largest m/M length, as QEMU's (MAX_PACKET_LENGTH / 2): the reply must fit a 4096-byte packet. */
    static final int MAX_MEMORY = 2048;
    private static final int SIGINT = 2, SIGTRAP = 5;
    private static final HexFormat HEX = HexFormat.of();

    private final RspChannel channel;
    private final DebugTarget target;
    private final Consumer<String> log;
    private final LinkedBlockingQueue<Input> inputs = new LinkedBlockingQueue<>();
    private final int vcpus;

    /** Breakpoint address to how many times it was inserted (QEMU keeps duplicates, so removes count). */
    private final Map<Long, Integer> breakpoints = new TreeMap<>();
    private boolean multiprocess;
    private boolean running;
    private boolean ended;
    /** The vCPU of g, p, m (Hg) and of s (Hc), by index. */
    private int gVcpu, cVcpu;

    GdbSession(RspChannel channel, DebugTarget target, Consumer<String> log) {
        this.channel = channel;
        this.target = target;
        this.log = log;
        this.vcpus = target.vcpuCount();
    }

    /** Serves the client until it detaches, kills, disconnects or the machine ends. */
    @Override
    public void run() {
        Thread reader = Thread.ofPlatform().daemon().name("jvisor-gdb-reader").start(this::readClient);
        try {
            target.onStop(v -> inputs.add(new Stopped(v)));
            target.stop();
            while (!ended) {
                switch (inputs.take()) {
                    case FromClient(RspChannel.Packet p) -> packet(p);
                    case FromClient(RspChannel.Interrupt i) -> interrupt();
                    case Stopped(int v) -> stopped(v);
                    case Closed c -> ended = true;
                }
            }
        } catch (IOException e) {
            log.accept("gdb: the connection failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IllegalStateException e) {
            // the machine ended under the session: nothing is left to debug
        } finally {
            target.onStop(null);
            channel.close();
            try {
                // a client that left without detaching leaves the machine as it is (QEMU's does too),
                // but no breakpoint stops it later with nobody there
                target.clearControls();
            } catch (IllegalStateException e) {
                // the machine has ended
            }
            reader.interrupt();
        }
    }

    private void readClient() {
        try {
            RspChannel.Received r;
            while ((r = channel.receive()) != null) {
                inputs.add(new FromClient(r));
            }
        } catch (IOException e) {
            // the client went away
        } finally {
            inputs.add(new Closed());
        }
    }

    /** Ctrl-C: a running machine stops, reported as SIGINT (QEMU: T02). */
    private void interrupt() throws IOException {
        if (!running) {
            return;
        }
        target.stop();
        running = false;
        channel.send(stopReply(SIGINT, cVcpu));
    }

    /** A vCPU stopped at a breakpoint or after a step: the whole machine is stopped, reported as SIGTRAP. */
    private void stopped(int vcpu) throws IOException {
        if (!running) {
            return;     // a second vCPU's stop, or one that raced with an interrupt: it stops again when resumed
        }
        target.stop();
        running = false;
        gVcpu = cVcpu = vcpu;
        channel.send(stopReply(SIGTRAP, vcpu));
    }

    private String stopReply(int signal, int vcpu) {
        return String.format("T%02xthread:%s;", signal, ThreadId.format(vcpu, multiprocess));
    }

    private void packet(RspChannel.Packet p) throws IOException {
        String reply;
        try {
            reply = answer(p);
        } catch (IllegalArgumentException e) {
            reply = "E22";   // malformed (NumberFormatException too): QEMU answers EINVAL
        } catch (IllegalStateException e) {
            reply = "E22";   // the machine refused (it runs, or has ended: the connection closes next)
        }
        if (reply != null) {
            channel.send(reply);
        }
    }

    /** The reply to one packet; null when there is none now (a resume: the stop replies later). */
    private String answer(RspChannel.Packet p) throws IOException {
        String t = p.text();
        if (t.isEmpty()) {
            return "";
        }
        return switch (t.charAt(0)) {
            case '?' -> stopReply(SIGTRAP, gVcpu);
            case 'g' -> t.length() == 1 ? readAllRegisters() : "";
            case 'G' -> writeAllRegisters(t.substring(1));
            case 'p' -> readRegister(t.substring(1));
            case 'P' -> writeRegister(t.substring(1));
            case 'm' -> readMemory(t.substring(1));
            case 'M' -> writeMemoryHex(t.substring(1));
            case 'X' -> writeMemoryBinary(p.data());
            case 'c', 's' -> legacyResume(t);
            case 'C', 'S' -> legacyResume(t.charAt(0) == 'C' ? "c" : "s");   // the signal is not the guest's business
            case 'H' -> selectThread(t);
            case 'T' -> alive(t.substring(1));
            case 'Z', 'z' -> breakpoint(t);
            case 'D' -> detach();
            case 'k' -> kill();
            case 'q' -> query(t);
            case 'Q' -> t.equals("QStartNoAckMode") ? noAck() : "";
            case 'v' -> vPacket(t);
            default -> "";
        };
    }

    // ---- queries ----

    private String query(String t) {
        if (t.equals("qSupported") || t.startsWith("qSupported:")) {
            multiprocess = t.startsWith("qSupported:") && Arrays.asList(t.substring(11).split(";")).contains("multiprocess+");
            return SUPPORTED;
        }
        if (t.equals("qC")) {
            return "QC" + ThreadId.format(gVcpu, multiprocess);
        }
        if (t.equals("qfThreadInfo")) {
            nextThreadInfo = 0;
            return threadInfo();
        }
        if (t.equals("qsThreadInfo")) {
            return threadInfo();
        }
        if (t.equals("qAttached") || t.startsWith("qAttached:")) {
            return "1";     // attached to an existing process: "kill" on quit, as QEMU says
        }
        if (t.startsWith("qThreadExtraInfo,")) {
            int v = oneVcpu(ThreadId.parse(t.substring(17)));
            String info = String.format("CPU#%d [%s]", v, target.halted(v) ? "halted " : "running");
            return HEX.formatHex(info.getBytes(StandardCharsets.US_ASCII));
        }
        if (t.startsWith("qXfer:features:read:")) {
            return features(t.substring(20));
        }
        return "";
    }

    /** The next vCPU qsThreadInfo names: QEMU lists one thread per reply, then 'l'. */
    private int nextThreadInfo;

    private String threadInfo() {
        if (nextThreadInfo >= vcpus) {
            return "l";
        }
        return "m" + ThreadId.format(nextThreadInfo++, multiprocess);
    }

    /** {@code ANNEX:OFFSET,LENGTH}: a piece of a target description, 'm' (more) or 'l' (last). */
    private String features(String args) {
        int colon = args.lastIndexOf(':');
        int comma = args.indexOf(',', colon);
        if (colon < 0 || comma < 0) {
            throw new IllegalArgumentException("qXfer: ANNEX:OFFSET,LENGTH expected");
        }
        long offset = Long.parseUnsignedLong(args.substring(colon + 1, comma), 16);
        long length = Long.parseUnsignedLong(args.substring(comma + 1), 16);
        byte[] doc = TargetDescription.document(args.substring(0, colon));
        if (doc == null) {
            return "E00";   // QEMU's answer for an annex it does not have
        }
        if (offset > doc.length) {
            throw new IllegalArgumentException("qXfer: offset past the document");
        }
        int n = (int) Math.min(length, doc.length - offset);
        String piece = new String(doc, (int) offset, n, StandardCharsets.ISO_8859_1);
        return (offset + n < doc.length ? "m" : "l") + piece;
    }

    private String noAck() throws IOException {
        // the OK is the last packet acked: gdb acks it and then stops acking, as we do
        channel.send("OK");
        channel.disableAcks();
        return null;
    }

    // ---- threads ----

    private String selectThread(String t) {
        if (t.length() < 3 || (t.charAt(1) != 'g' && t.charAt(1) != 'c')) {
            return "";
        }
        ThreadId id = ThreadId.parse(t.substring(2));
        if (id.tid() > vcpus) {
            return "E22";
        }
        int v = id.tid() > 0 ? id.tid() - 1 : t.charAt(1) == 'g' ? gVcpu : cVcpu;
        if (t.charAt(1) == 'g') {
            gVcpu = v;
        } else {
            cVcpu = v;
        }
        return "OK";
    }

    private String alive(String id) {
        int tid = ThreadId.parse(id).tid();
        return tid >= 1 && tid <= vcpus ? "OK" : "E22";
    }

    /** The vCPU a thread-id names; "any" and "all" name the current one. */
    private int oneVcpu(ThreadId id) {
        if (id.tid() > vcpus) {
            throw new IllegalArgumentException("no thread " + id.tid());
        }
        return id.tid() > 0 ? id.tid() - 1 : gVcpu;
    }

    // ---- registers ----

    private String readAllRegisters() {
        X86State s = target.readRegisters(gVcpu);
        byte[] out = new byte[GdbRegister.totalBytes()];
        int at = 0;
        for (GdbRegister r : GdbRegister.values()) {
            r.read(s, out, at);
            at += r.bytes();
        }
        return HEX.formatHex(out);
    }

    private String writeAllRegisters(String hex) {
        byte[] in = HEX.parseHex(hex);
        if (in.length != GdbRegister.totalBytes()) {
            return "E22";
        }
        X86State s = target.readRegisters(gVcpu);
        int at = 0;
        for (GdbRegister r : GdbRegister.values()) {
            r.write(s, in, at);     // the general registers first: their width is the mode's before the write
            at += r.bytes();
        }
        target.writeRegisters(gVcpu, s);
        return "OK";
    }

    private String readRegister(String n) {
        GdbRegister r = GdbRegister.byNumber(Integer.parseUnsignedInt(n, 16));
        if (r == null) {
            return "E14";
        }
        byte[] out = new byte[r.bytes()];
        r.read(target.readRegisters(gVcpu), out, 0);
        return HEX.formatHex(out);
    }

    private String writeRegister(String args) {
        int eq = args.indexOf('=');
        if (eq < 0) {
            throw new IllegalArgumentException("P: N=VALUE expected");
        }
        GdbRegister r = GdbRegister.byNumber(Integer.parseUnsignedInt(args.substring(0, eq), 16));
        byte[] value = HEX.parseHex(args.substring(eq + 1));
        if (r == null) {
            return "E14";
        }
        if (value.length != r.bytes()) {
            return "E22";
        }
        X86State s = target.readRegisters(gVcpu);
        r.write(s, value, 0);
        target.writeRegisters(gVcpu, s);
        return "OK";
    }

    // ---- memory ----

    /** {@code ADDR,LENGTH} as two hex numbers; the length within what one reply can carry. */
    private record Range(long address, int length) {
        static Range parse(String s) {
            int comma = s.indexOf(',');
            if (comma < 0) {
                throw new IllegalArgumentException("ADDR,LENGTH expected");
            }
            long len = Long.parseUnsignedLong(s.substring(comma + 1), 16);
            if (len > MAX_MEMORY) {
                throw new IllegalArgumentException("longer than " + MAX_MEMORY);
            }
            return new Range(Long.parseUnsignedLong(s.substring(0, comma), 16), (int) len);
        }
    }

    private String readMemory(String args) {
        Range r = Range.parse(args);
        byte[] buf = new byte[r.length()];
        if (target.readMemory(gVcpu, r.address(), buf) < buf.length) {
            return "E14";
        }
        return HEX.formatHex(buf);
    }

    private String writeMemoryHex(String args) {
        int colon = args.indexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("M: ADDR,LENGTH:DATA expected");
        }
        Range r = Range.parse(args.substring(0, colon));
        byte[] data = HEX.parseHex(args.substring(colon + 1));
        return writeMemory(r, data);
    }

    /** {@code XADDR,LENGTH:BINARY} (escapes already undone). QEMU 7.2 has no X; gdb probes it and uses it when answered. */
    private String writeMemoryBinary(byte[] packet) {
        int colon = 0;
        while (colon < packet.length && packet[colon] != ':') {
            colon++;
        }
        if (colon == packet.length) {
            throw new IllegalArgumentException("X: ADDR,LENGTH:DATA expected");
        }
        Range r = Range.parse(new String(packet, 1, colon - 1, StandardCharsets.ISO_8859_1));
        return writeMemory(r, Arrays.copyOfRange(packet, colon + 1, packet.length));
    }

    private String writeMemory(Range r, byte[] data) {
        if (data.length != r.length()) {
            return "E22";
        }
        if (data.length == 0) {
            return "OK";
        }
        return target.writeMemory(gVcpu, r.address(), data) < data.length ? "E14" : "OK";
    }

    // ---- breakpoints ----

    /**
     * {@code Z0}/{@code Z1} insert and {@code z0}/{@code z1} remove a breakpoint: software and
     * "hardware" ones are the same on a software CPU, as QEMU's TCG treats them. Watchpoints
     * (2-4) are not supported: the empty reply tells gdb so, and it falls back to stepping.
     */
    private String breakpoint(String t) {
        String[] f = t.substring(1).split(",");
        if (f.length < 3) {
            throw new IllegalArgumentException("Z: TYPE,ADDR,KIND expected");
        }
        int type = Integer.parseInt(f[0]);
        if (type != 0 && type != 1) {
            return "";
        }
        long addr = Long.parseUnsignedLong(f[1], 16);
        Integer.parseUnsignedInt(f[2].split(";")[0], 16);    // the kind: checked, any length will do
        if (t.charAt(0) == 'Z') {
            breakpoints.merge(addr, 1, Integer::sum);
            return "OK";
        }
        Integer n = breakpoints.get(addr);
        if (n == null) {
            return "E22";
        }
        if (n == 1) {
            breakpoints.remove(addr);
        } else {
            breakpoints.put(addr, n - 1);
        }
        return "OK";
    }

    // ---- running ----

    private enum Action { CONTINUE, STEP }

    /** {@code c [ADDR]} runs every vCPU; {@code s [ADDR]} steps the Hc vCPU, the others staying stopped. */
    private String legacyResume(String t) {
        Action[] actions = new Action[vcpus];
        int who = t.charAt(0) == 's' ? cVcpu : -1;
        if (t.length() > 1) {
            X86State s = target.readRegisters(who >= 0 ? who : cVcpu);
            s.rip = Long.parseUnsignedLong(t.substring(1), 16);
            target.writeRegisters(who >= 0 ? who : cVcpu, s);
        }
        for (int i = 0; i < vcpus; i++) {
            actions[i] = who < 0 ? Action.CONTINUE : i == who ? Action.STEP : null;
        }
        return resume(actions);
    }

    private String vPacket(String t) {
        if (t.equals("vCont?")) {
            return "vCont;c;C;s;S";
        }
        if (t.startsWith("vCont;")) {
            Action[] actions = new Action[vcpus];
            for (String part : t.substring(6).split(";")) {
                int colon = part.indexOf(':');
                String a = colon < 0 ? part : part.substring(0, colon);
                Action action = switch (a.isEmpty() ? ' ' : a.charAt(0)) {
                    case 'c', 'C' -> Action.CONTINUE;
                    case 's', 'S' -> Action.STEP;
                    default -> null;
                };
                if (action == null) {
                    return "";     // an action we do not offer (vCont? lists ours), as QEMU answers
                }
                ThreadId id = colon < 0 ? new ThreadId(ThreadId.ALL) : ThreadId.parse(part.substring(colon + 1));
                if (id.tid() > vcpus) {
                    return "E22";
                }
                for (int i = 0; i < vcpus; i++) {
                    if (actions[i] == null && id.matches(i)) {
                        actions[i] = action;    // the leftmost action that names a thread applies to it
                    }
                }
            }
            return resume(actions);
        }
        return "";  // vMustReplyEmpty and everything else we do not know
    }

    /** Runs the vCPUs under {@code actions} (null: stays stopped); the stop reply comes when they stop. */
    private String resume(Action[] actions) {
        long[] bps = breakpoints.keySet().stream().mapToLong(Long::longValue).toArray();
        List<DebugControl> controls = new ArrayList<>(vcpus);
        boolean[] hold = new boolean[vcpus];
        boolean any = false;
        for (int i = 0; i < vcpus; i++) {
            hold[i] = actions[i] == null;
            any |= !hold[i];
            controls.add(new DebugControl(bps, actions[i] == Action.STEP));
        }
        if (!any) {
            return "E22";
        }
        running = true;
        try {
            target.resume(controls, hold);
        } catch (RuntimeException e) {
            running = false;
            throw e;
        }
        return null;
    }

    /** {@code D}: breakpoints go, the machine runs on (QEMU's gdb_continue), and the client leaves. */
    private String detach() throws IOException {
        breakpoints.clear();
        target.clearControls();
        if (!running) {
            List<DebugControl> none = new ArrayList<>(vcpus);
            for (int i = 0; i < vcpus; i++) {
                none.add(DebugControl.NONE);
            }
            target.resume(none, null);
        }
        channel.send("OK");
        ended = true;
        return null;
    }

    /** {@code k}: as QEMU, "W00" (the process exited with 0), then the VMM ends. */
    private String kill() throws IOException {
        log.accept("terminated via GDBstub");
        try {
            channel.send("W00");
        } catch (IOException e) {
            // the client need not wait for it
        }
        ended = true;
        target.kill();
        return null;
    }
}
