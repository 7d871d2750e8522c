package org.jvisor.tcg;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import org.jvisor.config.JitOptions;

/**
 * Translates hot block entries on a thread of its own, one per VM, while the vCPUs go on
 * interpreting them; a vCPU finds the unit at its next entry. A vCPU never waits for a
 * translation (a unit costs about half a millisecond to make, and the boot of Linux makes
 * hundreds), and the second host core, which a one-vCPU guest leaves idle, does the work.
 * Requests that find the queue full are dropped and made again at a later entry.
 */
final class BackgroundTranslator {
    private static final int QUEUE = 256;

    private record Job(long rip, UnitTable.Entry entry) {
    }

    private final BlockingQueue<Job> queue = new ArrayBlockingQueue<>(QUEUE);
    private final Translator translator;
    final JitStats stats = new JitStats();
    private final Thread thread;

    BackgroundTranslator(MemorySegment ram, JitOptions options, SharedCode shared) {
        this.translator = new Translator(ram, options, shared, stats);
        this.thread = Thread.ofPlatform().daemon().name("tcg-translator").unstarted(this::serve);
        thread.start();
    }

    /** Asks for the entry at linear {@code rip} to be translated (once: a queued entry is not asked again). */
    void request(long rip, UnitTable.Entry e) {
        if (e.queued) {
            return;
        }
        e.queued = true;
        if (!queue.offer(new Job(rip, e))) {
            e.queued = false;
        }
    }

    private void serve() {
        try {
            while (true) {
                Job j = queue.take();
                if (!j.entry().dead && j.entry().unit == null) {
                    try {
                        translator.translate(j.rip(), j.entry(), TcgCpu.NO_STOP);
                    } catch (RuntimeException ex) {
                        // a unit that does not load is a translator bug: leave the entry interpreted, say why once
                        j.entry().declined = true;
                        stats.failures++;
                        if (stats.failures == 1) {
                            System.err.println("jvisor: tcg translator: " + ex.getMessage());
                        }
                    }
                }
                j.entry().queued = false;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops the thread and waits until it has: it reads guest RAM while it translates, so the VM
     * unmaps RAM only after this returns (a translation still running when RAM went away crashed
     * the JVM).
     */
    void close() {
        thread.interrupt();
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether the translator thread still runs (tests). */
    boolean running() {
        return thread.isAlive();
    }
}
