package org.jvisor.guest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KernelModulesTest {

    /** Shaped like the real 6.1 tree: full transitive dependency lists, as depmod writes them. */
    static final String MODULES_DEP = """
            kernel/drivers/virtio/virtio_ring.ko:
            kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/virtio/virtio_pci_modern_dev.ko:
            kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
            kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/net/core/failover.ko:
            kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
            kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/fs/fuse/fuse.ko:
            """;

    static void assertRespectsDependencies(KernelModules km, List<KernelModules.Module> order) throws IOException {
        List<String> names = order.stream().map(KernelModules.Module::name).toList();
        assertEquals(names.stream().distinct().count(), names.size(), "each module once: " + names);
        for (int i = 0; i < names.size(); i++) {
            for (String dep : km.depends(names.get(i))) {
                int at = names.indexOf(dep);
                assertTrue(at >= 0 && at < i, dep + " must be loaded before " + names.get(i) + ": " + names);
            }
        }
    }

    @Test
    void virtioOrderFromModulesDep() throws IOException {
        KernelModules km = KernelModules.parseModulesDep(MODULES_DEP);
        List<KernelModules.Module> order = km.loadOrder(InitramfsBuilder.VIRTIO_MODULES);
        List<String> names = order.stream().map(KernelModules.Module::name).toList();
        assertRespectsDependencies(km, order);
        assertTrue(names.containsAll(List.of("failover", "net_failover")), "dependencies come along: " + names);
        assertTrue(!names.contains("fuse"), "only what is asked for");
        assertEquals(12, names.size(), names.toString());
        assertEquals("virtio_ring", names.getFirst());
        assertEquals("kernel/drivers/char/hw_random/virtio-rng.ko", order.get(names.indexOf("virtio_rng")).path());
    }

    @Test
    void orderIsDeterministicAndStartsFromTheAskedOrder() throws IOException {
        KernelModules km = KernelModules.parseModulesDep(MODULES_DEP);
        // Asking for a leaf first pulls its dependencies in front of it.
        List<String> names = km.loadOrder(List.of("virtio_net", "virtio-rng", "virtio_blk")).stream()
                .map(KernelModules.Module::name).toList();
        assertEquals(List.of("net_failover", "failover", "virtio", "virtio_ring"),
                km.depends("virtio_net"));
        assertRespectsDependencies(km, km.loadOrder(List.of("virtio_net", "virtio-rng", "virtio_blk")));
        assertEquals(List.of("failover", "net_failover", "virtio_ring", "virtio", "virtio_net", "virtio_rng", "virtio_blk"),
                names);
        assertEquals(names, km.loadOrder(List.of("virtio_net", "virtio_rng", "virtio_blk")).stream()
                .map(KernelModules.Module::name).toList());
    }

    @Test
    void missingModulesAndCyclesAreErrors() {
        KernelModules km = KernelModules.parseModulesDep(MODULES_DEP);
        IOException e = assertThrows(IOException.class, () -> km.loadOrder(List.of("virtio_gpu")));
        assertTrue(e.getMessage().contains("virtio_gpu"), e.getMessage());
        KernelModules broken = KernelModules.parseModulesDep("a.ko: b.ko\nb.ko: c.ko\n");
        e = assertThrows(IOException.class, () -> broken.loadOrder(List.of("a")));
        assertTrue(e.getMessage().contains("'c' (needed by b)"), e.getMessage());
        KernelModules cycle = KernelModules.parseModulesDep("a.ko: b.ko\nb.ko: a.ko\n");
        e = assertThrows(IOException.class, () -> cycle.loadOrder(List.of("a")));
        assertTrue(e.getMessage().contains("cycle"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> KernelModules.parseModulesDep("no colon here\n"));
    }

    @Test
    void names() {
        assertEquals("virtio_rng", KernelModules.nameOf("kernel/drivers/char/hw_random/virtio-rng.ko"));
        assertEquals("virtio_net", KernelModules.nameOf("virtio_net.ko.xz"));
        assertEquals("virtio", KernelModules.nameOf("virtio"));
    }

    @Test
    void generatedModulesDepListsAllDependenciesLastLoadedFirst() throws IOException {
        KernelModules km = KernelModules.parseModulesDep(MODULES_DEP);
        String dep = KernelModules.modulesDep(km.loadOrder(List.of("virtio_net")));
        assertEquals("""
                kernel/net/core/failover.ko:
                kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
                kernel/drivers/virtio/virtio_ring.ko:
                kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
                kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
                """, dep);
        // and it parses back to the same order
        KernelModules again = KernelModules.parseModulesDep(dep);
        assertRespectsDependencies(again, again.loadOrder(List.of("virtio_net")));
    }

    // ---- a module tree without modules.dep, as Debian ships it: dependencies from .modinfo ----

    static final String VER = "6.1.0-99-test-amd64";

    /** A minimal ELF64 relocatable with a .modinfo section holding the given strings. */
    static byte[] module(String... modinfo) {
        ByteArrayOutputStream info = new ByteArrayOutputStream();
        for (String s : modinfo) {
            info.writeBytes(s.getBytes(StandardCharsets.UTF_8));
            info.write(0);
        }
        byte[] inf = info.toByteArray();
        byte[] shstr = "\0.modinfo\0.shstrtab\0".getBytes(StandardCharsets.US_ASCII);
        int infOff = 64, strOff = infOff + inf.length, shoff = (strOff + shstr.length + 7) & ~7;
        ByteBuffer b = ByteBuffer.allocate(shoff + 3 * 64).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7F, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(16, (short) 1);           // ET_REL
        b.putShort(18, (short) 62);          // x86-64
        b.putLong(0x28, shoff);
        b.putShort(0x34, (short) 64);
        b.putShort(0x3A, (short) 64);
        b.putShort(0x3C, (short) 3);
        b.putShort(0x3E, (short) 2);
        b.put(infOff, inf);
        b.put(strOff, shstr);
        int s1 = shoff + 64;                 // .modinfo
        b.putInt(s1, 1);
        b.putInt(s1 + 4, 1);
        b.putLong(s1 + 0x18, infOff);
        b.putLong(s1 + 0x20, inf.length);
        int s2 = shoff + 128;                // .shstrtab
        b.putInt(s2, 10);
        b.putInt(s2 + 4, 3);
        b.putLong(s2 + 0x18, strOff);
        b.putLong(s2 + 0x20, shstr.length);
        return b.array();
    }

    static Path tree(Path tmp, Map<String, byte[]> modules, String builtin) throws IOException {
        Path dir = tmp.resolve("lib/modules/" + VER);
        for (var e : modules.entrySet()) {
            Path p = dir.resolve(e.getKey());
            Files.createDirectories(p.getParent());
            Files.write(p, e.getValue());
        }
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("modules.builtin"), builtin);
        return dir;
    }

    static String vermagic(String ver) {
        return "vermagic=" + ver + " SMP preempt mod_unload modversions ";
    }

    @Test
    void dependenciesFromModinfoWhenThereIsNoModulesDep(@TempDir Path tmp) throws IOException {
        Path dir = tree(tmp, Map.of(
                "kernel/drivers/virtio/virtio_ring.ko", module("license=GPL", "depends=", "name=virtio_ring", vermagic(VER)),
                "kernel/drivers/virtio/virtio.ko", module("depends=virtio_ring", "name=virtio", vermagic(VER)),
                "kernel/net/core/failover.ko", module("depends=", vermagic(VER)),
                "kernel/drivers/net/net_failover.ko", module("depends=failover", vermagic(VER)),
                "kernel/drivers/net/virtio_net.ko", module("alias=virtio:d00000001v*", "depends=virtio_ring,virtio,net_failover", vermagic(VER)),
                "kernel/drivers/char/hw_random/virtio-rng.ko", module("depends=virtio,virtio_ring,rng_core", vermagic(VER))),
                "kernel/drivers/char/hw_random/rng-core.ko\n");
        KernelModules km = KernelModules.scan(dir, VER);
        List<KernelModules.Module> order = km.loadOrder(List.of("virtio_net", "virtio-rng"));
        assertEquals(List.of("virtio_ring", "virtio", "failover", "net_failover", "virtio_net", "virtio_rng"),
                order.stream().map(KernelModules.Module::name).toList());
        assertEquals(List.of("virtio_ring", "virtio", "net_failover"), order.get(4).depends());
        assertTrue(km.isBuiltin("rng-core"), "built-in dependencies are skipped, not errors");
        assertEquals("kernel/drivers/char/hw_random/virtio-rng.ko", km.path("virtio_rng").orElseThrow());
    }

    @Test
    void modulesOfAnotherKernelOrNotModulesAreErrors(@TempDir Path tmp) throws IOException {
        Path dir = tree(tmp, Map.of(
                "kernel/a.ko", module("depends=", vermagic("5.10.0-1-amd64")),
                "kernel/b.ko", "not an ELF file at all, padded to be long enough for a header......".getBytes(StandardCharsets.US_ASCII),
                "kernel/c.ko", new byte[] {0x7F, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0}),
                "");
        KernelModules km = KernelModules.scan(dir, VER);
        IOException e = assertThrows(IOException.class, () -> km.loadOrder(List.of("a")));
        assertTrue(e.getMessage().contains("5.10.0-1-amd64"), e.getMessage());
        e = assertThrows(IOException.class, () -> km.loadOrder(List.of("b")));
        assertTrue(e.getMessage().contains("not a little-endian ELF64"), e.getMessage());
        e = assertThrows(IOException.class, () -> km.loadOrder(List.of("c")));
        assertTrue(e.getMessage().contains("kernel/c.ko"), e.getMessage());
    }

    @Test
    void modulesDepInTheTreeWins(@TempDir Path tmp) throws IOException {
        Path dir = tree(tmp, Map.of(), "");
        Files.writeString(dir.resolve("modules.dep"), MODULES_DEP);
        KernelModules km = KernelModules.scan(dir, VER);
        assertEquals(12, km.loadOrder(InitramfsBuilder.VIRTIO_MODULES).size());
    }
}
