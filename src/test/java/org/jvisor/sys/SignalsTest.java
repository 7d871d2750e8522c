package org.jvisor.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SignalsTest {
    @Test
    void aBlockedSignalSentToThisThreadStaysPendingUntilTaken() throws Exception {
        int sig = Signals.sigrtmin() + 5; // clear of the vCPU kick (+4) and of glibc's own
        Signals.installNoopHandler(sig);
        SigSet set = SigSet.of(sig);
        Throwable[] failure = new Throwable[1];
        Thread t = Thread.ofPlatform().uncaughtExceptionHandler((th, e) -> failure[0] = e).start(() -> {
            try {
                Signals.block(set);
                assertTrue(Signals.blocked().contains(sig));
                assertEquals(0, Signals.takePending(set), "nothing pending yet");
                Signals.pthreadKill(Signals.pthreadSelf(), sig);
                assertEquals(sig, Signals.takePending(set));
                assertEquals(0, Signals.takePending(set), "consumed once");
                Signals.unblock(set);
                assertFalse(Signals.blocked().contains(sig));
            } catch (SysException e) {
                throw new AssertionError(e);
            }
        });
        t.join();
        if (failure[0] != null) {
            throw new AssertionError("on the signalled thread", failure[0]);
        }
    }

    @Test
    void sigSetBitsAreTheKernelsMask() {
        SigSet s = SigSet.of(1, 64);
        assertEquals(1L | (1L << 63), s.kernelMask());
        s.remove(1).add(2);
        assertEquals(2L | (1L << 63), s.kernelMask());
        assertEquals("{2, 64}", s.toString());
        assertThrows(IllegalArgumentException.class, () -> s.add(65));
        assertThrows(IllegalArgumentException.class, () -> s.add(0));
    }

    @Test
    void aBadSignalNumberIsAnError() {
        SysException e = assertThrows(SysException.class, () -> Signals.pthreadKill(Signals.pthreadSelf(), 1000));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().startsWith("pthread_kill(1000): EINVAL"), e.getMessage());
    }
}
