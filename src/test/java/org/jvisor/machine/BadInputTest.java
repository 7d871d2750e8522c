package org.jvisor.machine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input ends jvisor with one clear line on stderr and status 1: no stack trace, no hang. */
@GuestTest
class BadInputTest {

    private static void assertCleanError(JvisorProcess.Result r, String expected) {
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.stderr().contains(expected), "expected '" + expected + "' in: " + r);
        assertFalse(r.stderr().contains("\tat "), "no stack trace: " + r);
        assertFalse(r.stderr().contains("Exception"), "no exception names: " + r);
    }

    @Test
    void missingKernel() throws Exception {
        assertCleanError(JvisorProcess.run("-accel", "kvm", "-kernel", "/nonexistent/vmlinux"), "does not exist");
    }

    @Test
    void kernelThatIsNeitherElfNorBzImage(@TempDir Path dir) throws Exception {
        Path junk = dir.resolve("junk.bin");
        Files.write(junk, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        assertCleanError(JvisorProcess.run("-accel", "kvm", "-kernel", junk.toString()),
            "neither an ELF64 executable nor a Linux bzImage");
    }

    @Test
    void truncatedElf(@TempDir Path dir) throws Exception {
        byte[] hello = Files.readAllBytes(JvisorProcess.guest("hello.elf"));
        Path cut = dir.resolve("cut.elf");
        Files.write(cut, java.util.Arrays.copyOf(hello, 100));
        assertCleanError(JvisorProcess.run("-accel", "kvm", "-kernel", cut.toString()), "outside the");
    }

    @Test
    void elf32IsRefused(@TempDir Path dir) throws Exception {
        byte[] hello = Files.readAllBytes(JvisorProcess.guest("hello.elf"));
        hello[4] = 1;
        Path p = dir.resolve("e32.elf");
        Files.write(p, hello);
        assertCleanError(JvisorProcess.run("-accel", "kvm", "-kernel", p.toString()), "not ELF64");
    }

    @Test
    void unreadableKernelDirectory(@TempDir Path dir) throws Exception {
        assertCleanError(JvisorProcess.run("-accel", "kvm", "-kernel", dir.toString()), "is a directory");
    }

    /**
     * A -bios that cannot be a BIOS image is refused as QEMU refuses it, by its size, and beyond
     * QEMU by its reset vector (a file of the right size with no jump there).
     */
    @Test
    void biosThatIsNotABiosImage(@TempDir Path dir) throws Exception {
        Path zeros = dir.resolve("zeros.bin");
        Files.write(zeros, new byte[64 << 10]);
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-bios", zeros.toString()),
            "-bios " + zeros + ": not a BIOS image (no x86 jump at its reset vector, offset 0xfff0");
        Path odd = dir.resolve("odd.bin");
        Files.write(odd, new byte[1000]);
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-bios", odd.toString()), "not a BIOS image (1000 bytes");
        Path empty = dir.resolve("empty.bin");
        Files.write(empty, new byte[0]);
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-bios", empty.toString()), "not a BIOS image (0 bytes");
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-bios", dir.resolve("none.bin").toString()), "no such file");
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-bios", dir.toString()), "is a directory");
    }

    /** Without -bios and without SeaBIOS where jvisor looks for it, the error names Debian's package. */
    @Test
    void missingSeabiosNamesThePackage(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("bios-256k.bin");
        assertCleanError(JvisorProcess.run(List.of("-Djvisor.bios=" + missing), null, "-accel", "tcg", "-nographic"),
            "no firmware to boot from: " + missing + " is missing (install Debian's seabios package: apt-get install seabios)");
    }

    @Test
    void memoryTooSmallOrTooLarge() throws Exception {
        String k = JvisorProcess.guest("hello.elf").toString();
        assertCleanError(JvisorProcess.run("-m", "1M", "-kernel", k), "too small");
        assertCleanError(JvisorProcess.run("-m", "64T", "-kernel", k), "-m");
        assertCleanError(JvisorProcess.run("-m", "8000G", "-kernel", k), "more than this host has");
    }

    @Test
    void malformedOptionsAreNamed() throws Exception {
        String k = JvisorProcess.guest("hello.elf").toString();
        assertCleanError(JvisorProcess.run("-m", "lots", "-kernel", k), "-m: 'lots' is not a memory size");
        assertCleanError(JvisorProcess.run("-accel", "hvf", "-kernel", k), "-accel: 'hvf' is not an accelerator");
        assertCleanError(JvisorProcess.run("-frobnicate", "-kernel", k), "unknown option '-frobnicate'");
        assertCleanError(JvisorProcess.run("-serial", "tcp:1234", "-kernel", k), "-serial: 'tcp:1234'");
        assertCleanError(JvisorProcess.run("-device", "e1000", "-kernel", k), "-device: 'e1000'");
        assertCleanError(JvisorProcess.run("-device", "isa-debug-exit,iobase=zz", "-kernel", k), "iobase='zz' is not a number");
        assertCleanError(JvisorProcess.run("-smp", "0", "-kernel", k), "-smp");
        assertCleanError(JvisorProcess.run("-kernel"), "-kernel needs an argument");
        assertCleanError(JvisorProcess.run("-m", "64M", "-append", "quiet"), "-append needs -kernel");
        assertCleanError(JvisorProcess.run("-boot", "order=x1"), "-boot: order='x1'");
        assertCleanError(JvisorProcess.run("-boot", "menu=maybe"), "-boot: menu='maybe'");
    }

    @Test
    void segmentInsideTheBootAreaIsRefused(@TempDir Path dir) throws Exception {
        byte[] hello = Files.readAllBytes(JvisorProcess.guest("hello.elf"));
        // Move the first PT_LOAD's physical address (phdr at e_phoff, p_paddr at +24) to 0x1000.
        var b = java.nio.ByteBuffer.wrap(hello).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int phoff = (int) b.getLong(32);
        b.putLong(phoff + 24, 0x1000);
        Path p = dir.resolve("low.elf");
        Files.write(p, hello);
        var r = JvisorProcess.run("-accel", "kvm", "-kernel", p.toString());
        if (!Files.isWritable(Path.of("/dev/kvm"))) {
            return; // refused earlier, for want of KVM: still a clean error, checked elsewhere
        }
        assertCleanError(r, "overlaps jvisor's boot area");
    }

    @Test
    void diskImagesThatCannotBeUsedAreRefusedAtStartUp(@TempDir Path dir) throws Exception {
        String k = JvisorProcess.guest("hello.elf").toString();
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-drive", "file=/nonexistent.img,format=raw,if=virtio",
            "-kernel", k), "-drive file=/nonexistent.img");
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-hda", "/nonexistent.img", "-kernel", k),
            "-drive file=/nonexistent.img");
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-hda", "a.img", "-drive", "file=b.img,if=ide,index=0",
            "-kernel", k), "-drive: drive with bus=0, unit=0 (index=0) exists");
        Path tiny = dir.resolve("tiny.img");
        Files.write(tiny, new byte[100]);
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-drive", "file=" + tiny + ",format=raw,if=virtio",
            "-kernel", k), "-drive file=" + tiny);
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-drive", "file=x.vmdk,format=vmdk", "-kernel", k),
            "format=vmdk is not supported (raw or qcow2)");
        // a qcow2 image with cluster_bits 30, probed by its magic: refused naming the field
        Path bad = dir.resolve("bad.qcow2");
        org.jvisor.backend.block.qcow2.Qcow2Creator.create(bad, 1 << 20, 16, null, null);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(bad, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.allocate(4).putInt(0, 30), 20);
        }
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-drive", "file=" + bad + ",if=virtio", "-kernel", k),
            "-drive file=" + bad + ": " + bad + ": cluster_bits 30 is out of range (9 to 21)");
        // an image that is its own backing file
        Path loop = dir.resolve("loop.qcow2");
        org.jvisor.backend.block.qcow2.Qcow2Creator.create(loop, 1 << 20, 16, "loop.qcow2", "qcow2");
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-drive", "file=" + loop + ",format=qcow2,if=virtio",
            "-kernel", k), "backing file loop: " + loop.toRealPath() + " -> " + loop.toRealPath());
        assertCleanError(JvisorProcess.run("-accel", "tcg", "-device", "virtio-blk-pci,drive=nope", "-kernel", k),
            "no -drive id or -blockdev node-name 'nope'");
        String[] nineRngs = new String[22];
        for (int i = 0; i < 9; i++) {
            nineRngs[2 * i] = "-device";
            nineRngs[2 * i + 1] = "virtio-rng-device";
        }
        System.arraycopy(new String[] {"-M", "microvm", "-kernel", k}, 0, nineRngs, 18, 4);
        assertCleanError(JvisorProcess.run(nineRngs), "the microvm machine has 8 virtio-mmio transports, not 9");
    }

    @Test
    void helpAndVersion() throws Exception {
        var h = JvisorProcess.run("--help");
        assertEquals(0, h.status());
        assertTrue(h.stdout().contains("-accel kvm|tcg|auto"), h.toString());
        var v = JvisorProcess.run("--version");
        assertEquals(0, v.status());
        assertTrue(v.stdout().startsWith("jvisor "), v.toString());
    }
}
