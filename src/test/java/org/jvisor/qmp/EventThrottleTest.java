package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/** QEMU's rate limit for BALLOON_CHANGE: the first at once, then only the last of each period. */
class EventThrottleTest {

    private static JsonObject event(long actual) {
        return JsonObject.builder().put("event", "BALLOON_CHANGE").put("actual", actual).build();
    }

    @Test
    void theFirstGoesAtOnceAndOnlyTheLastOfABurstFollows() throws Exception {
        List<JsonObject> sent = new CopyOnWriteArrayList<>();
        // two seconds: the three offers below are microseconds apart, well inside one period
        try (EventThrottle t = new EventThrottle(2_000_000_000L, sent::add)) {
            t.offer(event(3));
            t.offer(event(2));
            t.offer(event(1));
            assertEquals(List.of(event(3)), sent, "the first at once, the others held");
            long end = System.nanoTime() + 60_000_000_000L;     // a hang guard, not a speed check
            while (sent.size() < 2) {
                if (System.nanoTime() > end) {
                    fail("the held event never came");
                }
                Thread.sleep(20);
            }
            assertEquals(List.of(event(3), event(1)), sent, "the burst's last when the period ended");
        }
    }

    @Test
    void nothingIsSentAfterClose() throws Exception {
        List<JsonObject> sent = new CopyOnWriteArrayList<>();
        EventThrottle t = new EventThrottle(50_000_000L, sent::add);
        t.offer(event(3));
        t.offer(event(2));
        t.close();
        t.offer(event(1));
        Thread.sleep(200);  // past the period: a held event would have been sent by now
        assertEquals(List.of(event(3)), sent);
    }
}
