package org.jvisor.machine;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;
import org.jvisor.testing.QemuStorageDaemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * guests/virtioblk.c against a vhost-user-blk-pci that qemu-storage-daemon serves: 32 writes and
 * reads each waiting in HLT for its MSI-X interrupt, one request with vector 0 masked and one with
 * the function masked (each completes without an interrupt, sets the pending bit and is delivered
 * on unmask), then 4 requests after vector 0's message moved to another vector. On kvm the
 * backend's call eventfd is an irqfd of the vector's message: -trace exits shows jvisor relayed
 * only the two masked completions (a relayed count near the request count means the calls went
 * through jvisor), and one binding per unmask or message change. With x-irqfd=off, and on tcg,
 * jvisor relays every completion.
 */
@GuestTest
class VhostUserIrqfdGuestTest {
    private static final int REQUESTS = 32;
    /** Phase 1, the two masked requests and the 4 after the message change. */
    private static final int COMPLETIONS = REQUESTS + 2 + 4;
    /** virtioblk.c's per-sector stamp base ("jvisrblk"). */
    private static final long STAMP = 0x6a76697372626c6bL;

    @TempDir
    Path dir;

    private record Run(JvisorProcess.Result result, long relayed, long bindings) {
    }

    private Run boot(String accel, String deviceOptions) throws Exception {
        Path image = dir.resolve("disk-" + accel + deviceOptions.replace(',', '-').replace('=', '-') + ".raw");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
        Path socket = dir.resolve("qsd.sock");
        JvisorProcess.Result r;
        try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, socket)) {
            r = JvisorProcess.run("-accel", accel, "-nographic", "-m", "256M",
                "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-machine", "memory-backend=mem",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-chardev", "socket,id=c0,path=" + socket, "-device", "vhost-user-blk-pci,chardev=c0,num-queues=1" + deviceOptions,
                "-trace", "exits", "-kernel", JvisorProcess.guest("virtioblk.elf").toString());
        }
        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stdout().contains("virtioblk: " + REQUESTS + " requests of 4 KiB (writes and reads back), each with its MSI-X interrupt\n"),
            r.toString());
        assertTrue(r.stdout().contains("virtioblk: vector masked: completed without an interrupt, pending bit set; delivered on unmask\n"),
            r.toString());
        assertTrue(r.stdout().contains("virtioblk: function masked: completed without an interrupt, pending bit set; delivered on unmask\n"),
            r.toString());
        assertTrue(r.stdout().endsWith("PASS\n"), r.toString());
        // What the guest wrote is in the daemon's image: block 1, each sector's stamp.
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
            for (int s = 0; s < 8; s++) {
                byte[] b = new byte[8];
                f.seek(4096 + 512L * s);
                f.readFully(b);
                assertEquals(STAMP ^ (1L << 8) ^ s, ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(), "block 1 sector " + s);
            }
        }
        String out = r.stdout() + r.stderr();
        int section = out.indexOf("-- vhost-user used-buffer interrupts");
        assertTrue(section >= 0, "no vhost-user section in the -trace exits report:\n" + r);
        Matcher m = Pattern.compile("(?m)^vhost-user-blk0@\\S+\\s+(\\d+)\\s+(\\d+)$").matcher(out.substring(section));
        assertTrue(m.find(), "no vhost-user line in the -trace exits report:\n" + r);
        return new Run(r, Long.parseLong(m.group(1)), Long.parseLong(m.group(2)));
    }

    @Test
    void onKvmTheBackendInterruptsTheGuestWithoutJvisor() throws Exception {
        KvmAvailability.assumeKvm();
        Run run = boot("kvm", "");
        // The two masked completions set the pending bit through jvisor; a call that races an
        // unmask may be relayed too. Everything else was an irqfd.
        assertTrue(run.relayed() >= 2 && run.relayed() <= 4,
            run.relayed() + " of " + COMPLETIONS + " completions relayed by jvisor:\n" + run.result());
        // Bound at setup, again after each of the two unmasks and after the message change.
        assertEquals(4, run.bindings(), run.result().toString());
    }

    @Test
    void withoutIrqfdJvisorRelaysEveryCompletion() throws Exception {
        KvmAvailability.assumeKvm();
        Run kvm = boot("kvm", ",x-irqfd=off");
        assertTrue(kvm.relayed() >= COMPLETIONS, kvm.result().toString());
        assertEquals(0, kvm.bindings(), kvm.result().toString());
    }

    @Test
    void onTcgJvisorRelaysEveryCompletion() throws Exception {
        Run tcg = boot("tcg", "");
        assertTrue(tcg.relayed() >= COMPLETIONS, tcg.result().toString());
        assertEquals(0, tcg.bindings(), tcg.result().toString());
    }
}
