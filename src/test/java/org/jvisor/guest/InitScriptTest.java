package org.jvisor.guest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import org.jvisor.testing.RequiredTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InitScriptTest {

    static final List<KernelModules.Module> ORDER = List.of(
            new KernelModules.Module("virtio_ring", "kernel/drivers/virtio/virtio_ring.ko", List.of()),
            new KernelModules.Module("virtio", "kernel/drivers/virtio/virtio.ko", List.of("virtio_ring")),
            new KernelModules.Module("virtio_rng", "kernel/drivers/char/hw_random/virtio-rng.ko", List.of("virtio", "virtio_ring")));

    static String script() {
        return InitScript.render("6.1.0-56-cloud-amd64", ORDER);
    }

    /** A busybox to run: on PATH, or the one extracted in the package cache by an earlier build. */
    static Optional<Path> busybox() throws IOException {
        if (Tools.onPath("busybox")) {
            return Optional.of(Path.of("busybox"));
        }
        Path root = GuestBuilder.defaultCacheDir().resolve("root");
        if (Files.isDirectory(root)) {
            try (Stream<Path> dirs = Files.list(root)) {
                Optional<Path> cached = dirs.filter(d -> d.getFileName().toString().startsWith("busybox-static_"))
                        .map(d -> d.resolve("bin/busybox")).filter(Files::isExecutable).findFirst();
                if (cached.isPresent()) {
                    return cached;
                }
            }
        }
        // Not there yet: fetch busybox-static (1 MB) as the guest build would, if apt can.
        if (Tools.onPath("apt-get") && Tools.onPath("dpkg-deb")) {
            try {
                DebianPackages debs = new DebianPackages(GuestBuilder.defaultCacheDir(),
                        new PrintStream(new ByteArrayOutputStream()), false);
                Path bb = debs.extract(debs.fetch(GuestBuilder.BUSYBOX_PACKAGE)).resolve("bin/busybox");
                return Files.isExecutable(bb) ? Optional.of(bb) : Optional.empty();
            } catch (IOException e) {
                return Optional.empty();
            }
        }
        return Optional.empty();
    }

    @Test
    void scriptLoadsModulesInOrderAndHandlesTheCommandLine() {
        String s = script();
        assertTrue(s.startsWith("#!/bin/sh\n"));
        assertTrue(s.contains("KVER=6.1.0-56-cloud-amd64\n"));
        int ring = s.indexOf("load_module kernel/drivers/virtio/virtio_ring.ko");
        int virtio = s.indexOf("load_module kernel/drivers/virtio/virtio.ko");
        int rng = s.indexOf("load_module kernel/drivers/char/hw_random/virtio-rng.ko");
        assertTrue(ring > 0 && ring < virtio && virtio < rng, "insmod order follows the load order");
        for (String needed : List.of("mount -t proc proc /proc", "mount -t sysfs sysfs /sys",
                "mount -t devtmpfs devtmpfs /dev", "jvisor.test=*", "jvisor.cmd=*", "poweroff -f",
                "setsid cttyhack sh", InitScript.BANNER_PREFIX, InitScript.READY_LINE)) {
            assertTrue(s.contains(needed), "missing: " + needed);
        }
        assertTrue(s.strip().endsWith("power_off"), "PID 1 never falls off the end");
        int acpid = s.indexOf("start_acpid\n");
        int trap = s.indexOf("trap 'EXIT_MODE=poweroff; power_off' USR1 USR2");
        int ready = s.indexOf("echo \"" + InitScript.READY_LINE);
        assertTrue(rng < acpid && acpid < trap && trap < ready,
            "acpid starts after the modules, poweroff's signal is trapped, then ready: " + s);
        assertTrue(ready < s.indexOf("if [ -n \"$TEST_MARKER\" ]"), "the trap holds in every mode");
        assertTrue(!s.contains("@"), "all placeholders replaced");
    }

    @Test
    void ideModulesLoadOnlyWithAPiixIdeFunction() {
        String s = InitScript.render("v", List.of(
            new KernelModules.Module("virtio", "kernel/drivers/virtio/virtio.ko", List.of()),
            new KernelModules.Module("libata", "kernel/drivers/ata/libata.ko", List.of()),
            new KernelModules.Module("ata_piix", "kernel/drivers/ata/ata_piix.ko", List.of("libata"))));
        assertTrue(s.contains("load_module kernel/drivers/virtio/virtio.ko\n"), s);
        assertTrue(s.contains("load_ide_module kernel/drivers/ata/libata.ko\n"), s);
        assertTrue(s.contains("load_ide_module kernel/drivers/ata/ata_piix.ko    # needs libata\n"), s);
        assertTrue(s.contains("0x8086:0x7010:"), "the PIIX3 IDE function's IDs, read from sysfs: " + s);
        assertTrue(s.indexOf("HAVE_IDE=1") < s.indexOf("load_ide_module kernel"), s);
    }

    @Test
    void vfioModulesAreLeftToModprobe() {
        String s = InitScript.render("v", List.of(
            new KernelModules.Module("virtio", "kernel/drivers/virtio/virtio.ko", List.of()),
            new KernelModules.Module("vfio", "kernel/drivers/vfio/vfio.ko", List.of()),
            new KernelModules.Module("vfio_pci", "kernel/drivers/vfio/pci/vfio-pci.ko", List.of("vfio"))));
        assertTrue(s.contains("load_module kernel/drivers/virtio/virtio.ko\n"), s);
        assertTrue(!s.contains("vfio.ko") && !s.contains("vfio-pci.ko"), s);
        assertTrue(s.contains("modprobe vfio-pci vfio_iommu_type1"), "the script says how to load them: " + s);
    }

    @Test
    void hostShellAcceptsTheSyntax(@TempDir Path tmp) throws Exception {
        RequiredTools.assume(Tools.onPath("sh"), "no sh on PATH");
        Path init = tmp.resolve("init");
        Files.writeString(init, script());
        Tools.Run r = Tools.run(tmp, List.of("sh", "-n", init.toString()));
        assertEquals(0, r.status(), r.output());
    }

    @Test
    void busyboxShellAcceptsTheSyntax(@TempDir Path tmp) throws Exception {
        Optional<Path> bb = busybox();
        RequiredTools.assume(bb.isPresent(), "no busybox on PATH, in the package cache, nor downloadable: busybox sh -n skipped");
        Path init = tmp.resolve("init");
        Files.writeString(init, script());
        Tools.Run r = Tools.run(tmp, List.of(bb.get().toString(), "sh", "-n", init.toString()));
        assertEquals(0, r.status(), r.output());
        Path action = tmp.resolve("00000080");
        Files.writeString(action, InitScript.POWER_BUTTON_ACTION);
        r = Tools.run(tmp, List.of(bb.get().toString(), "sh", "-n", action.toString()));
        assertEquals(0, r.status(), r.output());
        assertTrue(InitScript.POWER_BUTTON_ACTION.startsWith("#!/bin/sh\n"), "acpid executes it directly");
    }

    @Test
    void commandEncodingsDecodeInBusybox(@TempDir Path tmp) throws Exception {
        Optional<Path> bb = busybox();
        RequiredTools.assume(bb.isPresent(), "no busybox on PATH, in the package cache, nor downloadable: decoding check skipped");
        String cmd = "echo \"a  b\" 'c+d' 100% $HOME; ls /lib/modules/*/ && lsmod | head -n 3";
        String url = InitScript.cmdParameter(cmd);
        String b64 = InitScript.cmdParameterBase64(cmd);
        for (String p : List.of(url, b64)) {
            assertTrue(p.startsWith("jvisor.cmd="));
            assertTrue(p.chars().noneMatch(c -> c <= ' ' || c == '"'), "one word on the kernel command line: " + p);
        }
        // the decoding lines of /init, run by busybox sh on the host
        String decode = """
                CMD="${1#jvisor.cmd=}"
                case "$CMD" in
                    b64:*) CMD="$(echo "${CMD#b64:}" | base64 -d)" ;;
                    *)     CMD="$(httpd -d "$CMD")" ;;
                esac
                printf '%s' "$CMD"
                """;
        assertTrue(script().contains("b64:*) CMD=\"$(echo \"${CMD#b64:}\" | base64 -d)\" ;;"), "same code as in /init");
        Path sh = tmp.resolve("decode.sh");
        Files.writeString(sh, decode);
        for (String p : List.of(url, b64)) {
            Tools.Run r = Tools.run(tmp, List.of(bb.get().toString(), "sh", sh.toString(), p));
            assertEquals(0, r.status(), r.output());
            assertEquals(cmd, r.output(), "decoded " + p);
        }
    }
}
