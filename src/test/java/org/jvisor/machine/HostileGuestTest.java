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
}
