package org.jvisor.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.io.OutputStreamWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Watches a running jvisor from the outside for a whole test: a thread of its own asks the QMP
 * monitor {@code query-status} again and again (one question in flight, a short pause between
 * answers) and, at each answer, samples the process's own memory (RssAnon + RssFile of
 * /proc/PID/status less what is resident of the guest-RAM mapping, which /proc/PID/smaps shows by
 * its size: the heap, code and buffers). The test
 * marks a baseline once the guest has booted, asks {@link #awaitAnswer} at the points it wants the
 * monitor proven responsive (an answer to a question asked after that moment), and reads the
 * growth at the end; {@link #close} fails the test if the monitor stopped answering or went away
 * while jvisor still ran.
 */
public final class MonitorPoller implements AutoCloseable {
    /** A hang guard, as the sessions' own, not a performance limit. */
    private static final long WATCHDOG_MILLIS = 15 * 60 * 1000;
    /** Pause between an answer and the next question: often enough to see the whole run, cheap for the VMM. */
    private static final long PAUSE_MILLIS = 200;
    /** How long jvisor may take to exit after closing its monitor (only a failing run waits it out). */
    private static final long EXIT_GRACE_SECONDS = 60;

    private final Path socket;
    private final long pid;
    /** The size of the guest-RAM mapping (-m), which tells it apart in smaps. */
    private final long guestRamKib;
    private final Thread thread;
    private volatile boolean stopping;
    // Guarded by this
    private int answers;
    private long askedAt;
    private String lastStatus = "";
    private String failure;
    private long baselineKib = -1;
    private long peakKib;
    private boolean ended;

    private MonitorPoller(Path socket, long pid, long guestRamBytes) {
        this.guestRamKib = guestRamBytes >> 10;
        this.socket = socket;
        this.pid = pid;
        this.thread = Thread.ofPlatform().daemon().name("qmp poller").start(this::run);
    }

    /** Starts polling the QMP monitor listening on {@code socket} of the jvisor process {@code pid}. */
    /** Polls the monitor at {@code socket} of jvisor process {@code pid}, whose guest has {@code guestRamBytes} of RAM (-m). */
    public static MonitorPoller start(Path socket, long pid, long guestRamBytes) {
        return new MonitorPoller(socket, pid, guestRamBytes);
    }

    private void run() {
        try (SocketChannel ch = connect()) {
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            Writer out = new OutputStreamWriter(Channels.newOutputStream(ch), StandardCharsets.UTF_8);
            String greeting = in.readLine();
            if (greeting == null || !greeting.contains("\"QMP\"")) {
                throw new IOException("no QMP greeting: " + greeting);
            }
            out.write("{\"execute\": \"qmp_capabilities\"}\n");
            out.flush();
            answer(in);
            while (!stopping) {
                synchronized (this) {
                    askedAt = System.nanoTime();
                }
                out.write("{\"execute\": \"query-status\"}\n");
                out.flush();
                String a = answer(in);
                long kib = ownMemoryKib();
                synchronized (this) {
                    if (!a.contains("\"status\"")) {
                        failure = "query-status answered without a status: " + a;
                        return;
                    }
                    answers++;
                    askedAt = 0;
                    lastStatus = a;
                    if (baselineKib >= 0) {
                        peakKib = Math.max(peakKib, kib);
                    }
                    notifyAll();
                }
                Thread.sleep(PAUSE_MILLIS);
            }
        } catch (IOException e) {
            // jvisor closes its monitors on the way out: a closed monitor is a failure only if jvisor stays
            boolean exits = ProcessHandle.of(pid).map(h -> {
                try {
                    h.onExit().get(EXIT_GRACE_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
                    return true;
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException x) {
                    return false;
                } catch (InterruptedException x) {
                    Thread.currentThread().interrupt();
                    return true;
                }
            }).orElse(true);
            synchronized (this) {
                if (!exits && !stopping) {
                    failure = "the monitor stopped answering while jvisor runs: " + e;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            synchronized (this) {
                ended = true;
                notifyAll();
            }
        }
    }

    private SocketChannel connect() throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + WATCHDOG_MILLIS;
        while (true) {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
                return ch;
            } catch (IOException e) {
                ch.close();
                if (System.currentTimeMillis() > deadline || !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    /** The next reply line, past asynchronous events (STOP, RESUME, ...). */
    private static String answer(BufferedReader in) throws IOException {
        while (true) {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("the monitor closed the connection");
            }
            if (line.contains("\"return\"") || line.contains("\"error\"")) {
                return line;
            }
        }
    }

    /**
     * RssAnon + RssFile of the process less the resident part of guest RAM (a private mapping
     * since mem-merge, so counted in RssAnon), in KiB; 0 once it is gone.
     */
    private long ownMemoryKib() {
        long kib = 0;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("RssAnon:") || line.startsWith("RssFile:")) {
                    kib += Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
            boolean ram = false;
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps"))) {
                if (line.startsWith("Size:")) {
                    ram = Long.parseLong(line.replaceAll("[^0-9]", "")) == guestRamKib;
                } else if (ram && line.startsWith("Rss:")) {
                    kib -= Long.parseLong(line.replaceAll("[^0-9]", ""));
                    ram = false;
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return kib;
    }

    /**
     * Waits for an answer to a question asked after this call: proof that the monitor answers now.
     * Returns that answer (a query-status reply).
     */
    public synchronized String awaitAnswer() throws InterruptedException {
        int target = answers + (askedAt != 0 ? 2 : 1);  // a question in flight was asked before now
        long deadline = System.currentTimeMillis() + WATCHDOG_MILLIS;
        while (answers < target) {
            if (failure != null || ended) {
                throw new AssertionError("the monitor did not answer: " + (failure != null ? failure : "polling ended"));
            }
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                throw new AssertionError("watchdog: the monitor did not answer query-status");
            }
            wait(left);
        }
        return lastStatus;
    }

    /** Takes the memory sample every later one is compared with (call once the guest has booted). */
    public synchronized long markBaseline() {
        baselineKib = ownMemoryKib();
        peakKib = baselineKib;
        return baselineKib;
    }

    /** The largest sample since the baseline less the baseline, in KiB. */
    public synchronized long growthKib() {
        if (baselineKib < 0) {
            throw new IllegalStateException("no baseline taken");
        }
        return Math.max(peakKib, ownMemoryKib()) - baselineKib;
    }

    public synchronized long baselineKib() {
        return baselineKib;
    }

    /** How many query-status questions were answered. */
    public synchronized int answers() {
        return answers;
    }

    /**
     * Stops polling. Fails if a question went unanswered or the monitor went away while jvisor
     * still ran; the monitor closing because jvisor ended (the guest's own end) is not a failure.
     */
    @Override
    public void close() throws InterruptedException {
        stopping = true;
        thread.join(WATCHDOG_MILLIS);
        synchronized (this) {
            if (thread.isAlive()) {
                throw new AssertionError("watchdog: a query-status went unanswered (" + answers + " answered before)");
            }
            if (failure != null) {
                throw new AssertionError(failure + " (" + answers + " answered before)");
            }
        }
    }
}
