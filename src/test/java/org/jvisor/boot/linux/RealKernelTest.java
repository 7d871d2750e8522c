package org.jvisor.boot.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.jvisor.boot.BootException;
import org.jvisor.boot.ElfImage;
import org.jvisor.memory.GuestMemory;
import org.jvisor.testing.GuestTest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The real thing, when a distribution kernel is on this machine: {@code -Djvisor.linux.kernel} or
 * {@code $JVISOR_LINUX_KERNEL}, else the demo guest's {@code build/guest/vmlinuz}, else
 * {@code /boot/vmlinuz-*}, else a {@code boot/vmlinuz-*} unpacked under /tmp (dpkg-deb -x of
 * linux-image-cloud-amd64). Skipped with the reason otherwise.
 */
@GuestTest
class RealKernelTest {

    static Optional<Path> findKernel() {
        List<Path> candidates = new ArrayList<>();
        String p = System.getProperty("jvisor.linux.kernel", System.getenv("JVISOR_LINUX_KERNEL"));
        if (p != null && !p.isBlank()) {
            candidates.add(Path.of(p));
        }
        candidates.add(Path.of(System.getProperty("jvisor.root", "."), "build/guest/vmlinuz"));
        candidates.addAll(glob(Path.of("/boot"), 1));
        candidates.addAll(glob(Path.of("/tmp"), 5));
        return candidates.stream().filter(Files::isReadable).filter(Files::isRegularFile).findFirst();
    }

    private static List<Path> glob(Path dir, int depth) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.find(dir, depth, (f, a) -> a.isRegularFile()
            && f.getFileName().toString().startsWith("vmlinuz-")
            && f.getParent() != null && f.getParent().getFileName().toString().equals("boot"))) {
            return s.sorted(Comparator.reverseOrder()).toList();
        } catch (IOException | java.io.UncheckedIOException e) {
            return List.of();
        }
    }

    @Test
    void parsesDecompressesAndLoadsADistributionKernel() throws IOException, BootException {
        Optional<Path> found = findKernel();
        assumeTrue(found.isPresent(), "no Linux kernel on this machine (set JVISOR_LINUX_KERNEL, or build the demo guest)");
        Path path = found.get();
        byte[] file = Files.readAllBytes(path);
        assumeTrue(SetupHeader.looksLikeBzImage(file), path + " is not a bzImage");

        SetupHeader h = SetupHeader.parse(file, path.toString());
        System.out.println("real kernel " + path + " (" + file.length + " bytes): " + h);
        assertTrue(h.version() >= SetupHeader.MIN_VERSION);
        assertTrue((h.xloadflags() & SetupHeader.XLF_KERNEL_64) != 0);
        assertTrue(h.payloadLength() > 0);

        int off = (int) (h.protectedModeOffset() + h.payloadOffset());
        PayloadDecompressor.Format format = PayloadDecompressor.detect(file, off, (int) h.payloadLength());
        System.out.println("payload format: " + format.label);
        assumeTrue(format.supported, "payload is " + format.label + ", not decodable on the host");

        long best = Long.MAX_VALUE;
        PayloadDecompressor.Result r = null;
        for (int i = 0; i < 5; i++) {
            r = PayloadDecompressor.decompress(file, off, (int) h.payloadLength(), "payload");
            best = Math.min(best, r.nanos());
            System.out.printf("host decompression run %d: %.1f ms%n", i + 1, r.nanos() / 1e6);
        }
        System.out.printf("decompressed %d -> %d bytes, best %.1f ms%n", h.payloadLength(), r.vmlinux().length, best / 1e6);
        ElfImage elf = ElfImage.parse(r.vmlinux(), "vmlinux");
        long entry = LinuxBoot.physicalEntry(elf, "vmlinux");
        System.out.printf("vmlinux: e_entry %#x -> physical %#x, %d PT_LOAD segments, PVH note %b%n",
            elf.entry(), entry, elf.segments().size(), elf.hasPvhNote());
        for (ElfImage.Segment s : elf.segments()) {
            System.out.printf("  PT_LOAD vaddr %#x paddr %#x filesz %#x memsz %#x%n", s.virtAddr(), s.physAddr(), s.fileSize(), s.memSize());
        }
        // A relocatable kernel links at its preferred address; startup_64 is its first byte.
        if (h.relocatable()) {
            assertEquals(h.prefAddress(), entry);
        }

        Path initramfs = path.resolveSibling("initramfs.cpio.gz");
        byte[] initrd = Files.isReadable(initramfs) ? Files.readAllBytes(initramfs) : new byte[64 << 10];
        try (GuestMemory ram = GuestMemory.allocate(512L << 20)) {
            for (boolean host : new boolean[] {false, true}) {
                LinuxBootResult lr = LinuxBoot.load(ram, file, initrd, "console=ttyS0 panic=-1", 0, List.of(), host);
                System.out.println(lr.description());
                assertEquals(host ? entry : h.prefAddress() + 0x200, lr.entryState().rip);
                assertTrue(lr.initrdAddr() >= lr.kernelEnd());
            }
        }
    }

    @Test
    void theStreamedLoadOfADistributionKernelMatchesTheArrayLoad() throws IOException, BootException {
        Optional<Path> found = findKernel();
        assumeTrue(found.isPresent(), "no Linux kernel on this machine (set JVISOR_LINUX_KERNEL, or build the demo guest)");
        byte[] file = Files.readAllBytes(found.get());
        assumeTrue(LinuxKernel.canDecompressOnHost(file), found.get() + " is not a bzImage with a payload decodable on the host");
        LinuxKernel streamed = LinuxKernel.prepare(file, true);
        SetupHeader h = streamed.header();
        byte[] vmlinux = PayloadDecompressor.decompress(file, (int) (h.protectedModeOffset() + h.payloadOffset()),
            (int) h.payloadLength(), "payload").vmlinux();
        assertEquals(vmlinux.length, streamed.vmlinuxSize());
        System.out.printf("validating pass at prepare: %.1f ms%n", streamed.decompressNanos() / 1e6);
        StreamedVmlinuxLoadTest.assertSameKernelInRam(streamed, LinuxKernel.prepare(vmlinux, false), 512L << 20);
    }
}
