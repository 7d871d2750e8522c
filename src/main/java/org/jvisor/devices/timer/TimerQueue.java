package org.jvisor.devices.timer;

import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;

/**
 * All guest-time timers of one machine, in a binary min-heap ordered by deadline. Two ways to run
 * them:
 * <ul>
 * <li>{@link #start()}: one background platform thread parks until the earliest deadline (woken
 * early only when a newly armed timer becomes the earliest) and runs due callbacks; no busy waiting
 * and, on the steady state, no allocation (the heap is an array of long-lived timers, and the
 * thread parks with {@link LockSupport#parkNanos}).</li>
 * <li>{@link #runDue()} / {@link #advanceTo(long)}: callbacks run on the caller's thread, which is
 * how tests drive time deterministically with a {@link ManualClock}.</li>
 * </ul>
 * The background wait assumes guest time advances at the host's rate; a slower clock only costs
 * extra wake-ups (the thread re-checks the deadline before firing).
 */
public final class TimerQueue implements AutoCloseable {
    private final Clock clock;
    private VirtualTimer[] heap = new VirtualTimer[16];
    private int size;
    private volatile Thread thread;
    private volatile boolean closed;
    private long fired;
    /**
     * The deadline the background thread sleeps until (guarded by this; MAX_VALUE: none, 0: awake).
     * A newly armed timer wakes it only when it is due before that: a guest that re-arms its
     * one-shot timer later on every idle entry (Linux NOHZ) costs no wake-up of this thread.
     */
    private long sleepingUntil;
    /** Times the background thread woke from a park (read by tests: spurious wake-ups cost host CPU on an idle guest). */
    private volatile long wakeUps;

    public TimerQueue(Clock clock) {
        this.clock = clock;
    }

    public Clock clock() {
        return clock;
    }

    /** Creates a timer (disarmed). Timers live as long as their device; there is no removal. */
    public VirtualTimer newTimer(String name, VirtualTimer.Callback callback) {
        return new VirtualTimer(this, name, callback);
    }

    /** The earliest armed deadline, or {@link Long#MAX_VALUE} when nothing is armed. */
    public synchronized long nextDeadline() {
        return size == 0 ? Long.MAX_VALUE : heap[0].deadline;
    }

    public synchronized int armedCount() {
        return size;
    }

    /** Callbacks run so far. */
    public synchronized long firedCount() {
        return fired;
    }

    void arm(VirtualTimer t, long deadline) {
        Thread wake = null;
        synchronized (this) {
            if (t.index >= 0) {
                long old = t.deadline;
                t.deadline = deadline;
                if (deadline < old) {
                    siftUp(t.index);
                } else {
                    siftDown(t.index);
                }
            } else {
                if (size == heap.length) {
                    heap = Arrays.copyOf(heap, size * 2);
                }
                t.deadline = deadline;
                t.index = size;
                heap[size++] = t;
                siftUp(t.index);
            }
            if (heap[0] == t && deadline < sleepingUntil) {
                wake = thread;
                sleepingUntil = 0;
            }
        }
        if (wake != null && wake != Thread.currentThread()) {
            LockSupport.unpark(wake);
        }
    }

    synchronized void cancel(VirtualTimer t) {
        if (t.index >= 0) {
            removeAt(t.index);
        }
    }

    /** Pops the earliest timer if its deadline is at or before {@code now}; null otherwise. */
    private synchronized VirtualTimer pollDue(long now) {
        if (size == 0 || heap[0].deadline > now) {
            return null;
        }
        VirtualTimer t = heap[0];
        removeAt(0);
        fired++;
        return t;
    }

    /** Runs, on this thread, every callback whose deadline is at or before the clock's now. */
    public int runDue() {
        int n = 0;
        VirtualTimer t;
        while ((t = pollDue(clock.nanos())) != null) {
            t.callback.expired(t.deadline);
            n++;
        }
        return n;
    }

    /**
     * With a {@link ManualClock}: moves time forward to {@code nanos}, stopping at each deadline on
     * the way (the clock reads exactly that deadline while its callback runs, so periodic timers
     * re-armed by callbacks fire at every period), then leaves the clock at {@code nanos}.
     */
    public int advanceTo(long nanos) {
        if (!(clock instanceof ManualClock manual)) {
            throw new IllegalStateException("advanceTo needs a ManualClock");
        }
        int n = 0;
        while (true) {
            VirtualTimer t;
            synchronized (this) {
                if (size == 0 || heap[0].deadline > nanos) {
                    break;
                }
                t = heap[0];
                removeAt(0);
                fired++;
            }
            long d = t.deadline;
            manual.set(d);
            t.callback.expired(d);
            n++;
        }
        manual.set(nanos);
        return n;
    }

    /** How often the background thread has woken from a wait (timer due, earlier timer armed, spurious). */
    public long wakeUps() {
        return wakeUps;
    }

    /** Whether the background thread is waiting for a deadline (or for any timer) right now. */
    public synchronized boolean waiting() {
        return sleepingUntil != 0;
    }

    /** Starts the background thread that fires timers in (guest) real time. */
    public synchronized void start() {
        if (thread != null || closed) {
            return;
        }
        Thread th = Thread.ofPlatform().daemon().name("jvisor-timers").unstarted(this::loop);
        thread = th;
        th.start();
    }

    private void loop() {
        while (!closed) {
            long wait;
            VirtualTimer due = null;
            synchronized (this) {
                long now = clock.nanos();
                if (size == 0) {
                    wait = Long.MAX_VALUE;
                } else if (heap[0].deadline <= now) {
                    due = heap[0];
                    removeAt(0);
                    fired++;
                    wait = 0;
                } else {
                    wait = heap[0].deadline - now;
                }
                sleepingUntil = due != null ? 0 : size == 0 ? Long.MAX_VALUE : heap[0].deadline;
            }
            if (due != null) {
                try {
                    due.callback.expired(due.deadline);
                } catch (RuntimeException | Error e) {
                    System.err.println("jvisor: timer " + due.name + " failed: " + e);
                }
            } else {
                if (wait == Long.MAX_VALUE) {
                    LockSupport.park(this);
                } else {
                    LockSupport.parkNanos(this, wait);
                }
                wakeUps++;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        Thread th = thread;
        if (th != null) {
            LockSupport.unpark(th);
            try {
                th.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---- binary heap, guarded by this ----

    private void removeAt(int i) {
        VirtualTimer t = heap[i];
        t.index = -1;
        size--;
        if (i != size) {
            VirtualTimer last = heap[size];
            heap[i] = last;
            last.index = i;
            heap[size] = null;
            siftDown(i);
            siftUp(last.index);
        } else {
            heap[size] = null;
        }
    }

    private void siftUp(int i) {
        VirtualTimer t = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            VirtualTimer p = heap[parent];
            if (p.deadline <= t.deadline) {
                break;
            }
            heap[i] = p;
            p.index = i;
            i = parent;
        }
        heap[i] = t;
        t.index = i;
    }

    private void siftDown(int i) {
        VirtualTimer t = heap[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            VirtualTimer c = heap[child];
            int right = child + 1;
            if (right < size && heap[right].deadline < c.deadline) {
                child = right;
                c = heap[child];
            }
            if (t.deadline <= c.deadline) {
                break;
            }
            heap[i] = c;
            c.index = i;
            i = child;
        }
        heap[i] = t;
        t.index = i;
    }
}
