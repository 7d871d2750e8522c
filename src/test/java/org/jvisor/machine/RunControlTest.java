package org.jvisor.machine;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/** A pause whose work each vCPU thread does on itself as it stops (a live migration's save of the vCPUs). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)   // a hang guard only
class RunControlTest {

    /** A vCPU thread as VcpuRunner drives one: wait until runnable, then "run" until the phase changes. */
    private static Thread vcpu(RunControl rc) {
        return Thread.ofPlatform().name("test-vcpu").start(() -> {
            while (true) {
                synchronized (rc) {
                    if (!rc.awaitRunnable(0)) {
                        return;
                    }
                }
                while (rc.phase() == RunControl.Phase.RUNNING) {
                    Thread.onSpinWait();
                }
            }
        });
    }

    @Test
    void aRunningVcpuDoesItsStopWorkOnItselfBeforeThePauseIsOver() throws Exception {
        RunControl rc = new RunControl(1);
        Thread t = vcpu(rc);
        rc.resumeAll();
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        rc.requestPause(new Runnable[] {() -> ranOn.set(Thread.currentThread())});
        rc.awaitAllIdle();
        assertSame(t, ranOn.get(), "the work ran on the vCPU's thread, before awaitAllIdle returned");
        rc.stop();
        t.join();
    }

    @Test
    void aVcpuAlreadyWaitingDoesItToo() throws Exception {
        RunControl rc = new RunControl(1);   // paused from the start: the thread waits
        Thread t = vcpu(rc);
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        rc.requestPause(new Runnable[] {() -> ranOn.set(Thread.currentThread())});
        rc.awaitAllIdle();
        assertSame(t, ranOn.get());
        rc.stop();
        t.join();
    }

    @Test
    void aStoppedMachineQueuesNothing() throws Exception {
        RunControl rc = new RunControl(1);
        Thread t = vcpu(rc);
        rc.stop();
        t.join();
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        rc.requestPause(new Runnable[] {() -> ranOn.set(Thread.currentThread())});
        rc.awaitAllIdle();
        assertNull(ranOn.get());
        assertEquals(RunControl.Phase.STOPPED, rc.phase());
    }
}
