package org.jvisor.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.jvisor.guest.CpioWriter;
import org.jvisor.guest.DebianPackages;
import org.jvisor.guest.GuestBuilder;
import org.jvisor.guest.InitramfsBuilder;

/** The demo guest (Debian's kernel, busybox initramfs) for tests that boot it: built once, then reused. */
public final class DemoGuest {
    /**
     * The kernel parameters tests boot the demo guest with, before their own: the serial console,
     * and no crypto self-tests at boot (cryptomgr.notests). On tcg those tests are more than half
     * of a boot's guest instructions (1.5e9 to 0.65e9 to /init); DemoGuestBootTest's first boot
     * keeps them, and checks that they pass.
     */
    public static final String CONSOLE = "console=ttyS0 cryptomgr.notests";

    private DemoGuest() {
    }

    /**
     * The demo guest in its default place, built from Debian's packages if missing; the builder's
     * messages are kept quiet and shown only when the build fails.
     */
    public static GuestBuilder.Guest build() throws IOException {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try {
            return GuestBuilder.build(GuestBuilder.defaultOutDir(), false, new PrintStream(log, true, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IOException("building the demo guest failed: " + e.getMessage() + "\n" + log, e);
        }
    }

    /**
     * The demo guest's kernel with an initramfs of its own in {@code dir} that also loads
     * {@code extraModules} (and their dependencies), e.g. virtiofs: tests that need a driver the
     * demo guest does not load, without changing the demo guest.
     */
    public static GuestBuilder.Guest withModules(Path dir, List<String> extraModules) throws IOException {
        GuestBuilder.Guest demo = build();
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        DebianPackages debs = new DebianPackages(GuestBuilder.defaultCacheDir(), new PrintStream(log, true, StandardCharsets.UTF_8),
            false);
        DebianPackages.Kernel kernel = debs.kernel(GuestBuilder.KERNEL_PACKAGE);
        Path busybox = debs.extract(debs.fetch(GuestBuilder.BUSYBOX_PACKAGE)).resolve("bin/busybox");
        List<String> modules = Stream.concat(InitramfsBuilder.MODULES.stream(), extraModules.stream()).toList();
        Path initramfs = dir.resolve("initramfs-extra.cpio.gz");
        try (OutputStream out = Files.newOutputStream(initramfs)) {
            new InitramfsBuilder(busybox, kernel.moduleDir(), kernel.version(), modules).write(out);
        }
        return new GuestBuilder.Guest(dir, demo.kernel(), initramfs, demo.kernelVersion(), modules);
    }

    /**
     * The demo guest with e2fsck in its initramfs ({@code /bin/e2fsck}, Debian's e2fsck-static:
     * busybox has mke2fs but no checker), for tests that check an ext4 file system in the guest
     * as a boot's fsck does. The demo initramfs is followed by a second gzip'd cpio archive
     * holding the binary; the kernel unpacks concatenated archives in turn (Documentation/
     * driver-api/early-userspace/buffer-format.rst), so the demo archive is used as it is.
     */
    public static GuestBuilder.Guest withE2fsck(Path dir) throws IOException {
        GuestBuilder.Guest demo = build();
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        DebianPackages debs = new DebianPackages(GuestBuilder.defaultCacheDir(), new PrintStream(log, true, StandardCharsets.UTF_8),
            false);
        Path e2fsck;
        try {
            e2fsck = debs.extract(debs.fetch("e2fsck-static")).resolve("sbin/e2fsck.static");
        } catch (IOException e) {
            throw new IOException("Debian's e2fsck-static: " + e.getMessage() + "\n" + log, e);
        }
        Path initramfs = dir.resolve("initramfs-e2fsck.cpio.gz");
        try (OutputStream out = Files.newOutputStream(initramfs)) {
            Files.copy(demo.initramfs(), out);
            try (CpioWriter cpio = CpioWriter.gzip(out, 0)) {
                cpio.file("bin/e2fsck", 0755, e2fsck);
                cpio.finish();
            }
        }
        return new GuestBuilder.Guest(dir, demo.kernel(), initramfs, demo.kernelVersion(), demo.modules());
    }

    /**
     * Debian's generic kernel of the demo guest's ABI (linux-image-6.1.0-NN-amd64 beside the demo's
     * 6.1.0-NN-cloud-amd64: the same build with the drivers of real hardware, AHCI among them) with
     * an initramfs of its own in {@code dir} loading only {@code modules} (and their dependencies):
     * the generic kernel boots slower than the cloud one on tcg, so tests load no more than they use.
     */
    public static GuestBuilder.Guest genericKernel(Path dir, List<String> modules) throws IOException {
        GuestBuilder.Guest demo = build();
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        DebianPackages debs = new DebianPackages(GuestBuilder.defaultCacheDir(), new PrintStream(log, true, StandardCharsets.UTF_8),
            false);
        String version = demo.kernelVersion().replace("-cloud-amd64", "-amd64");
        DebianPackages.Kernel kernel;
        try {
            kernel = debs.kernel("linux-image-" + version);
        } catch (IOException e) {
            throw new IOException("the generic kernel " + version + ": " + e.getMessage() + "\n" + log, e);
        }
        Path busybox = debs.extract(debs.fetch(GuestBuilder.BUSYBOX_PACKAGE)).resolve("bin/busybox");
        Path initramfs = dir.resolve("initramfs-generic.cpio.gz");
        try (OutputStream out = Files.newOutputStream(initramfs)) {
            new InitramfsBuilder(busybox, kernel.moduleDir(), kernel.version(), modules).write(out);
        }
        return new GuestBuilder.Guest(dir, kernel.vmlinuz(), initramfs, kernel.version(), modules);
    }
}
