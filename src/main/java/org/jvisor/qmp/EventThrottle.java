package org.jvisor.qmp;

import java.util.function.Consumer;

import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.util.DelayedAction;

/**
 * QEMU's monitor rate limit for events a guest can raise in bursts (monitor_qapi_event_conf:
 * BALLOON_CHANGE among them, one per second): the first goes out at once; of those within the
 * next period only the last is kept, sent when the period ends, which starts another. A balloon
 * inflating 128 MiB changes its size a hundred times a second; a client sees the first and the
 * latest.
 */
final class EventThrottle implements AutoCloseable {
    private final long periodNanos;
    private final Consumer<JsonObject> sink;
    private final DelayedAction periodEnd = new DelayedAction("qmp-event-throttle", this::endPeriod);
    private JsonObject pending;
    private boolean periodRunning;
    private boolean closed;

    EventThrottle(long periodNanos, Consumer<JsonObject> sink) {
        this.periodNanos = periodNanos;
        this.sink = sink;
    }

    void offer(JsonObject event) {
        synchronized (this) {
            if (closed) {
                return;
            }
            if (periodRunning) {
                pending = event;
                return;
            }
            periodRunning = true;
        }
        sink.accept(event);
        periodEnd.schedule(periodNanos);
    }

    /** The period is over: send what it held, which starts the next; with nothing held, the next offer goes at once. */
    private void endPeriod() {
        JsonObject next;
        synchronized (this) {
            next = closed ? null : pending;
            pending = null;
            if (next == null) {
                periodRunning = false;
                return;
            }
        }
        sink.accept(next);
        periodEnd.schedule(periodNanos);
    }

    /** Drops what is held and waits for a send at a period's end, so nothing reaches the sink afterwards. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            pending = null;
        }
        periodEnd.close();
    }
}
