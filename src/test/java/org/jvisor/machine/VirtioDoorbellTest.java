package org.jvisor.machine;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * guests/virtiorng.c drives a virtio-rng-pci device by hand on both engines: 1000 requests at the
 * BAR the VMM placed, the BAR moved by the guest and 1000 more, then 1000 that each wait for their
 * MSI-X interrupt (exactly one per request; on kvm raised through an irqfd route). On kvm the queue
 * notifications are ioeventfd doorbells: the -trace exits report shows the moved BAR with only the
 * guest's register accesses (MSI-X vector setup, the final reset), while every one of the 2000
 * notifications there reached the BAR on tcg and on kvm with ioeventfd=off.
 */
@GuestTest
class VirtioDoorbellTest {
    private static final String DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04";
    private static final int REQUESTS = 1000;
    /** Where the guest moves the BAR (MOVED_BAR in virtiorng.c). */
    private static final String MOVED_BAR = "0x80000000";
    /**
     * After the move the guest only notifies, besides: config_msix_vector, queue_select and
     * queue_msix_vector written and the latter read back; status 0 written and read back.
     */
    private static final int ACCESSES_BESIDES_NOTIFY = 6;
    private static final int NOTIFIES_AFTER_MOVE = 2 * REQUESTS;

    private static JvisorProcess.Result boot(String accel, String device) throws Exception {
        return JvisorProcess.run("-accel", accel, "-nographic", "-m", "256M", "-device", DEBUG_EXIT, "-device", device,
            "-trace", "exits", "-kernel", JvisorProcess.guest("virtiorng.elf").toString());
    }

    private static void assertPassed(JvisorProcess.Result r) {
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stdout().contains("virtiorng: " + REQUESTS + " requests of 64 bytes of entropy after moving the BAR\n"),
            r.toString());
        assertTrue(r.stdout().contains("virtiorng: " + REQUESTS + " requests of 64 bytes of entropy each with its MSI-X interrupt\n"),
            r.toString());
        assertTrue(r.stdout().endsWith("PASS\n"), r.toString());
    }

    /** Accesses to the virtio BAR at its moved address, from the -trace exits report (0 if not listed). */
    private static long movedBarAccesses(JvisorProcess.Result r) {
        Matcher m = Pattern.compile("(?m)^\\S+ virtio\\s+" + MOVED_BAR + "\\s+(\\d+)").matcher(r.stdout() + r.stderr());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /** MMIO write exits of the whole run, from the report. */
    private static long mmioWriteExits(JvisorProcess.Result r) {
        Matcher m = Pattern.compile("(?m)^mmio_write\\s+(\\d+)").matcher(r.stdout() + r.stderr());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    @Test
    void everyNotifyReachesTheBarOnTcg() throws Exception {
        var r = boot("tcg", "virtio-rng-pci");
        assertPassed(r);
        assertEquals(NOTIFIES_AFTER_MOVE + ACCESSES_BESIDES_NOTIFY, movedBarAccesses(r), r.toString());
    }

    @Test
    void notifiesDoNotExitOnKvm() throws Exception {
        KvmAvailability.assumeKvm();
        var kvm = boot("kvm", "virtio-rng-pci");
        assertPassed(kvm);
        assertEquals(ACCESSES_BESIDES_NOTIFY, movedBarAccesses(kvm), "notifications left KVM after the BAR moved:\n" + kvm);
        assertTrue(mmioWriteExits(kvm) < REQUESTS / 10,
            "3000 requests but " + mmioWriteExits(kvm) + " MMIO write exits (setup only expected):\n" + kvm);
        var tcg = boot("tcg", "virtio-rng-pci");
        assertEquals(tcg.stdout().substring(0, tcg.stdout().indexOf("PASS")), kvm.stdout().substring(0, kvm.stdout().indexOf("PASS")),
            "the guest sees the same device on both engines");
    }

    @Test
    void ioeventfdOffKeepsNotifiesOnTheMmioPathOnKvm() throws Exception {
        KvmAvailability.assumeKvm();
        var r = boot("kvm", "virtio-rng-pci,ioeventfd=off");
        assertPassed(r);
        assertEquals(NOTIFIES_AFTER_MOVE + ACCESSES_BESIDES_NOTIFY, movedBarAccesses(r), r.toString());
        assertTrue(mmioWriteExits(r) >= 3 * REQUESTS, r.toString());
    }

    /** -M microvm: the same guest finds the device on virtio-mmio and notifies through QueueNotify. */
    private static JvisorProcess.Result bootMicrovm(String accel) throws Exception {
        return JvisorProcess.run("-accel", accel, "-M", "microvm", "-nographic", "-m", "256M", "-device", DEBUG_EXIT,
            "-device", "virtio-rng-device", "-trace", "exits", "-kernel", JvisorProcess.guest("virtiorng.elf").toString());
    }

    /** Accesses to the virtio-mmio window, from the report. */
    private static long mmioWindowAccesses(JvisorProcess.Result r) {
        Matcher m = Pattern.compile("(?m)^virtio-rng \\(virtio-mmio\\)\\s+0xfeb00000\\s+(\\d+)").matcher(r.stdout() + r.stderr());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    @Test
    void virtioMmioQueueNotifyIsADoorbellOnKvm() throws Exception {
        var tcg = bootMicrovm("tcg");
        assertEquals(33, tcg.status(), tcg.toString());
        assertTrue(tcg.stdout().contains("virtiorng: " + REQUESTS + " requests of 64 bytes of entropy through virtio-mmio\n"), tcg.toString());
        long setup = mmioWindowAccesses(tcg) - REQUESTS;
        assertTrue(setup > 10 && setup < 60, "tcg: every QueueNotify write reaches the window:\n" + tcg);
        KvmAvailability.assumeKvm();
        var kvm = bootMicrovm("kvm");
        assertEquals(33, kvm.status(), kvm.toString());
        assertEquals(tcg.stdout().substring(0, tcg.stdout().indexOf("PASS")), kvm.stdout().substring(0, kvm.stdout().indexOf("PASS")));
        assertEquals(setup, mmioWindowAccesses(kvm), "kvm: only the register setup exits, no QueueNotify:\n" + kvm);
    }
}
