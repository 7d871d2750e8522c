package org.jvisor.devices.timer;

/**
 * One re-armable timer of a {@link TimerQueue}: a device creates it once and then arms it at
 * absolute guest-time deadlines. Arming, cancelling and firing allocate nothing.
 *
 * <p>The callback runs on the queue's thread (or the caller of {@link TimerQueue#runDue()} /
 * {@link TimerQueue#advanceTo(long)}) with no queue lock held, so it may re-arm this or any timer.
 * A device that cancels or re-arms concurrently with a firing may still see one stale call: the
 * callback receives the deadline it was armed for so the device can compare it with its own state.
 */
public final class VirtualTimer {

    /** What runs at the deadline. */
    @FunctionalInterface
    public interface Callback {
        void expired(long deadlineNanos);
    }

    final TimerQueue queue;
    final String name;
    final Callback callback;
    /** Position in the queue's heap, -1 when not armed (guarded by the queue). */
    int index = -1;
    long deadline;

    VirtualTimer(TimerQueue queue, String name, Callback callback) {
        this.queue = queue;
        this.name = name;
        this.callback = callback;
    }

    /** Arms (or re-arms) the timer to fire at guest time {@code deadlineNanos}; a past deadline fires at once. */
    public void arm(long deadlineNanos) {
        queue.arm(this, deadlineNanos);
    }

    /** Disarms the timer; does nothing when it is not armed. */
    public void cancel() {
        queue.cancel(this);
    }

    public boolean isArmed() {
        synchronized (queue) {
            return index >= 0;
        }
    }

    /** The deadline of the last arming (meaningful while {@link #isArmed()}). */
    public long deadline() {
        synchronized (queue) {
            return deadline;
        }
    }

    public String name() {
        return name;
    }

    @Override
    public String toString() {
        return "VirtualTimer[" + name + "]";
    }
}
