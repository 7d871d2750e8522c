package org.jvisor.qmp;

import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

import org.jvisor.qmp.json.JsonValue.JsonObject;

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
        startPeriod();
    }

    private void startPeriod() {
        Thread.ofVirtual().name("qmp-event-throttle").start(() -> {
            LockSupport.parkNanos(periodNanos);
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
            startPeriod();
        });
    }

    @Override
    public synchronized void close() {
        closed = true;
        pending = null;
    }
}
