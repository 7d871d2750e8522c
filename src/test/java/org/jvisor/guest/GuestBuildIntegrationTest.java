package org.jvisor.guest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.jvisor.testing.GuestTest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Builds the real guest from Debian packages (into target/guest-it, packages cached in
 * {@link GuestBuilder#defaultCacheDir()}) and checks what came out. Runs when the package cache
 * already has the kernel, or the machine can reach the Debian mirror with apt-get.
 */
@GuestTest
class GuestBuildIntegrationTest {

    static final Path OUT = Path.of("target/guest-it").toAbsolutePath();
    static GuestBuilder.Guest guest;
    static String log;

    static boolean cacheHasKernel() throws IOException {
        Path cache = GuestBuilder.defaultCacheDir();
        if (!Files.isDirectory(cache)) {
            return false;
        }
        try (Stream<Path> files = Files.list(cache)) {
            return files.anyMatch(p -> p.getFileName().toString().matches("linux-image-\\d.*\\.deb"));
        }
    }

    static boolean mirrorReachable() {
        if (!Tools.onPath("apt-get") || !Tools.onPath("dpkg-deb")) {
            return false;
        }
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("deb.debian.org", 80), 3000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @BeforeAll
    static void build() throws IOException {
        assumeTrue(Tools.onPath("dpkg-deb") && (cacheHasKernel() || mirrorReachable()),
                "cannot build the Debian guest here: no dpkg-deb, or no cached packages in "
                        + GuestBuilder.defaultCacheDir() + " and deb.debian.org unreachable");
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        guest = GuestBuilder.build(OUT, true, new PrintStream(bos, true, StandardCharsets.UTF_8));
        log = bos.toString(StandardCharsets.UTF_8);
        System.out.print(log);
    }

    @Test
    void kernelIsABzImageOfTheResolvedVersion() throws IOException {
        byte[] k = Files.readAllBytes(guest.kernel());
        assertEquals("HdrS", new String(k, 0x202, 4, StandardCharsets.US_ASCII));
        assertTrue(guest.kernelVersion().matches("6\\.1\\.0-\\d+-cloud-amd64"), guest.kernelVersion());
        assertEquals(guest.kernelVersion() + "\n", Files.readString(OUT.resolve(GuestBuilder.KERNEL_VERSION)));
        assertTrue(k.length > 4 << 20, "a real kernel: " + k.length);
    }

    @Test
    void initramfsHasInitBusyboxAndTheVirtioModulesInDependencyOrder() throws IOException {
        List<CpioReader.Entry> entries = CpioReader.readGzip(Files.readAllBytes(guest.initramfs()));
        Map<String, CpioReader.Entry> m = CpioReader.byName(entries);

        CpioReader.Entry init = m.get("init");
        assertEquals(CpioWriter.S_IFREG | 0755, init.mode());
        assertTrue(init.text().startsWith("#!/bin/sh\n"));
        CpioReader.Entry busybox = m.get("bin/busybox");
        assertEquals(CpioWriter.S_IFREG | 0755, busybox.mode());
        assertArrayEquals(new byte[] {0x7F, 'E', 'L', 'F'}, java.util.Arrays.copyOf(busybox.data(), 4));
        for (String applet : List.of("sh", "mount", "insmod", "poweroff", "cttyhack", "setsid", "md5sum", "ip", "httpd", "base64",
                "acpid")) {
            assertEquals("busybox", m.get("bin/" + applet).text(), applet);
        }
        CpioReader.Entry console = m.get("dev/console");
        assertEquals(CpioWriter.S_IFCHR | 0600, console.mode());
        assertEquals(5, console.rdevMajor());
        assertEquals(1, console.rdevMinor());

        // The modules in /init's insmod order; each one's .modinfo dependencies come earlier.
        String base = "lib/modules/" + guest.kernelVersion() + "/";
        List<String> order = new ArrayList<>();
        for (String line : init.text().lines().toList()) {
            // load_ide_module: loaded only when the PIIX3 IDE function is there, load_balloon_module
            // only with a virtio-balloon (the same order rules)
            String verb = line.startsWith("load_module ") ? "load_module " : line.startsWith("load_ide_module ")
                ? "load_ide_module " : line.startsWith("load_balloon_module ") ? "load_balloon_module " : null;
            if (verb != null) {
                String path = line.substring(verb.length()).split("\\s")[0];
                order.add(KernelModules.nameOf(path));
                CpioReader.Entry ko = m.get(base + path);
                assertTrue(ko != null, path + " in the archive");
                Map<String, String> info = KernelModules.modinfo(ko.data(), path);
                assertTrue(info.get("vermagic").startsWith(guest.kernelVersion() + " "), info.get("vermagic"));
                for (String dep : info.get("depends").split(",")) {
                    if (!dep.isEmpty()) {
                        assertTrue(order.contains(dep) && order.indexOf(dep) < order.size() - 1,
                                dep + " before " + path + ": " + order);
                    }
                }
            }
        }
        for (String wanted : List.of("virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
                "virtio_pci", "virtio_blk", "virtio_net", "virtio_mmio", "virtio_rng", "virtio_console",
                "failover", "net_failover", "button", "evdev")) {
            assertTrue(order.contains(wanted), wanted + " loaded: " + order);
        }
        for (String ide : List.of("libata", "ata_piix", "sd_mod", "sr_mod", "isofs")) {
            assertTrue(order.contains(ide), ide + " loaded when there is an IDE controller: " + order);
        }
        assertTrue(order.indexOf("virtio_ring") < order.indexOf("virtio"));
        assertTrue(init.text().lines().anyMatch(l -> l.startsWith("load_balloon_module ") && l.contains("virtio_balloon.ko")),
            "the balloon's driver behind its own check: " + init.text());
        assertTrue(order.indexOf("virtio_balloon") > order.indexOf("virtio_pci") && order.indexOf("virtio_balloon") > order.indexOf("virtio_mmio"),
            "after the transports that put a balloon on the virtio bus: " + order);
        // VFIO is in the archive and modules.dep for modprobe, and /init does not load it
        List<String> vfio = guest.modules().stream().filter(InitramfsBuilder.VFIO_ONLY_MODULES::contains).toList();
        assertEquals(InitramfsBuilder.VFIO_ONLY_MODULES, java.util.Set.copyOf(vfio), "every VFIO module, and no other: " + guest.modules());
        String dep = m.get(base + "modules.dep").text();
        assertTrue(dep.lines().anyMatch(l -> l.matches("kernel/drivers/vfio/pci/vfio-pci\\.ko: .*vfio-pci-core\\.ko.*vfio\\.ko.*")),
            "vfio-pci's dependencies for modprobe: " + dep);
        assertTrue(order.stream().noneMatch(InitramfsBuilder.VFIO_ONLY_MODULES::contains), "/init loads no VFIO module: " + order);
        assertEquals(order, guest.modules().stream().filter(n -> !InitramfsBuilder.VFIO_ONLY_MODULES.contains(n)).toList());
        assertTrue(m.containsKey(base + "modules.dep"));

        // The power button's action, where busybox acpid looks for it, executable.
        CpioReader.Entry action = m.get(InitScript.POWER_BUTTON_ACTION_PATH);
        assertEquals(CpioWriter.S_IFREG | 0755, action.mode());
        assertEquals(InitScript.POWER_BUTTON_ACTION, action.text());
    }

    @Test
    void secondBuildIsUpToDateAndIdentical() throws IOException {
        byte[] before = Files.readAllBytes(guest.initramfs());
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        long t0 = System.nanoTime();
        GuestBuilder.Guest again = GuestBuilder.build(OUT, false, new PrintStream(bos, true, StandardCharsets.UTF_8));
        assertTrue(bos.toString(StandardCharsets.UTF_8).contains("up to date"), bos.toString(StandardCharsets.UTF_8));
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "no rebuild");
        assertEquals(guest, again);
        assertEquals(guest, GuestBuilder.existing(OUT).orElseThrow());
        assertArrayEquals(before, Files.readAllBytes(again.initramfs()));
    }

    @Test
    void rebuildIsReproducible() throws IOException {
        Path other = OUT.resolveSibling("guest-it-2");
        GuestBuilder.Guest g2 = GuestBuilder.build(other, GuestBuilder.defaultCacheDir(), true, false,
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        assertArrayEquals(Files.readAllBytes(guest.initramfs()), Files.readAllBytes(g2.initramfs()),
                "same packages, same bytes");
        assertArrayEquals(Files.readAllBytes(guest.kernel()), Files.readAllBytes(g2.kernel()));
        // A changed output is noticed: no longer up to date.
        assertTrue(GuestBuilder.existing(other).isPresent());
        Files.writeString(other.resolve(GuestBuilder.KERNEL_VERSION), "tampered\n");
        assertTrue(GuestBuilder.existing(other).isEmpty());
        assertTrue(GuestBuilder.existing(other.resolve("nowhere")).isEmpty());
    }
}
