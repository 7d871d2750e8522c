package org.jvisor.api;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A listener that keeps every event, for tests: {@link #await} waits (watchdog only, not a
 * performance limit) until an event of a type has arrived.
 */
final class RecordedEvents implements Consumer<VmEvent> {
    private static final long WATCHDOG_MILLIS = 15 * 60 * 1000;

    private final List<VmEvent> events = new ArrayList<>();

    @Override
    public synchronized void accept(VmEvent e) {
        events.add(e);
        notifyAll();
    }

    /** The events so far, in order. */
    synchronized List<VmEvent> list() {
        return List.copyOf(events);
    }

    /** The QMP names of the events so far, with their reasons: "SHUTDOWN guest-shutdown", "STOP"... */
    synchronized List<String> names() {
        return events.stream().map(RecordedEvents::name).toList();
    }

    static String name(VmEvent e) {
        return switch (e) {
            case VmEvent.Shutdown s -> "SHUTDOWN " + s.reason().qemuName() + (s.guest() ? " guest" : "");
            case VmEvent.Reset r -> "RESET " + r.reason().qemuName() + (r.guest() ? " guest" : "");
            case VmEvent.Migration m -> "MIGRATION " + m.status();
            default -> e.qmpName();
        };
    }

    /** Waits until {@code count} events of {@code type} have arrived. */
    synchronized void await(Class<? extends VmEvent> type, int count) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WATCHDOG_MILLIS;
        while (events.stream().filter(type::isInstance).count() < count) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                throw new AssertionError("watchdog: no " + type.getSimpleName() + " #" + count + " among " + names());
            }
            wait(left);
        }
    }
}
