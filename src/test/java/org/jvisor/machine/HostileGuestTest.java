package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

/**
 * A hostile guest end to end (issue 16): guests/hostile.c sweeps every port, the PCI configuration
 * space of every function and the APICs' registers with random values, on a machine with virtio
 * devices on it. jvisor keeps running the guest to its own end, reports no internal error, and
 * leaves the disk it never wrote as it was.
 */
@GuestTest
class HostileGuestTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"pc", "microvm"})
    void randomWritesToEveryRegisterDoNotBringTheVmmDown(String machine) throws Exception {
        Path image = dir.resolve("disk.img");
        byte[] content = new byte[1 << 20];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte) (i * 31 + 7);
        }
        Files.write(image, content);
        boolean pc = machine.equals("pc");
        List<String> args = new ArrayList<>(List.of("-accel", "tcg", "-M", machine, "-nographic", "-no-reboot", "-m", "256M",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-drive", "id=d0,file=" + image + ",format=raw,if=none",
            "-device", pc ? "virtio-blk-pci,drive=d0" : "virtio-blk-device,drive=d0",
            "-device", pc ? "virtio-rng-pci" : "virtio-rng-device",
            "-chardev", "null,id=c0", "-device", pc ? "virtio-serial-pci" : "virtio-serial-device",
            "-device", "virtconsole,chardev=c0",
            "-kernel", JvisorProcess.guest("hostile.elf").toString()));
        JvisorProcess.Result r = JvisorProcess.run(args.toArray(new String[0]));
        assertTrue(r.stdout().contains("hostile: survived"), r.toString());
        assertEquals(33, r.status(), r.toString());
        assertFalse(r.stderr().contains("internal error") || r.stderr().contains("Exception"), r.toString());
        assertTrue(java.util.Arrays.equals(content, Files.readAllBytes(image)), "the disk is untouched");
    }

    /**
     * A hostile virtio driver (guests/virtioattack.c) against virtio-blk-pci: descriptor loops, a
     * next index past the ring, DMA aimed at the APICs, the device's own BAR, past RAM and at the
     * top of the address space, a 4 GiB buffer, an available index 1000 ahead, a notify storm, and
     * completions signalled through MSI-X entries aimed at RAM and nowhere, random writes over the
     * BAR. Every bad request is refused (DEVICE_NEEDS_RESET or an I/O error, which the guest
     * checks), the device works again after a reset, the monitor answers throughout, jvisor's own
     * memory stays bounded, and the disk is untouched.
     */
    @org.junit.jupiter.api.Test
    void aHostileVirtioDriverIsRefusedAndTheMonitorKeepsAnswering() throws Exception {
        Path image = dir.resolve("disk.img");
        byte[] content = new byte[1 << 20];
        content[0] = (byte) 0xEB; // the guest checks that a valid read returns this
        content[1] = 0x3C;
        Files.write(image, content);
        Path qmp = dir.resolve("qmp.sock");
        try (org.jvisor.testing.JvisorSession j = org.jvisor.testing.JvisorSession.start("-accel", "tcg", "-M", "pc",
                "-nographic", "-no-reboot", "-m", "256M", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-drive", "id=d0,file=" + image + ",format=raw,if=none", "-device", "virtio-blk-pci,drive=d0",
                "-qmp", "unix:" + qmp + ",server=on,wait=off",
                "-kernel", JvisorProcess.guest("virtioattack.elf").toString())) {
            j.expect("virtioattack: a descriptor loop:");
            try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(
                    java.net.UnixDomainSocketAddress.of(qmp));
                 java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
                     java.nio.channels.Channels.newInputStream(ch), java.nio.charset.StandardCharsets.UTF_8))) {
                java.io.Writer w = new java.io.OutputStreamWriter(java.nio.channels.Channels.newOutputStream(ch),
                    java.nio.charset.StandardCharsets.UTF_8);
                assertTrue(in.readLine().contains("\"QMP\""), "greeting");
                w.write("{\"execute\": \"qmp_capabilities\"}\n{\"execute\": \"query-status\"}\n");
                w.flush();
                assertTrue(in.readLine().contains("\"return\""));
                String status = in.readLine();
                assertTrue(status.contains("\"running\""), status);
            }
            j.expect("2100000 doorbells with nothing new");
            long own = ownMemoryKib(j.pid());
            assertTrue(own < 400 << 10, "jvisor's own memory (RssAnon + RssFile) stays bounded under the attacks: "
                + own + " KiB");
            j.expect("random writes over the BAR: the device works after a reset");
            j.expect("virtioattack: survived");
            assertEquals(33, j.waitFor(), j.transcript());
            String out = j.stdout();
            long refused = out.lines().filter(l -> l.endsWith(": needs reset") || l.endsWith(": I/O error")).count();
            assertEquals(19, refused, out);
            assertTrue(out.contains("2100000 doorbells with nothing new: the device still works"), out);
            assertFalse(j.stderr().contains("internal error") || j.stderr().contains("Exception"), j.transcript());
            assertTrue(j.stderr().contains("further guest errors are not logged"), "the log stays bounded: " + j.stderr());
        }
        assertTrue(java.util.Arrays.equals(content, Files.readAllBytes(image)), "the disk is untouched");
    }

    /** RssAnon + RssFile of a process: its memory without the shared mapping of guest RAM. */
    private static long ownMemoryKib(long pid) throws java.io.IOException {
        long kib = 0;
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("RssAnon:") || line.startsWith("RssFile:")) {
                kib += Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return kib;
    }
}
