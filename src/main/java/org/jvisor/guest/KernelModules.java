package org.jvisor.guest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The loadable modules of one kernel and their dependencies, and the order to load a set of them.
 *
 * <p>Dependencies come from {@code modules.dep} when the tree has one (it is written by depmod at
 * install time, so Debian's linux-image packages do <em>not</em> ship it), otherwise from each
 * module's own {@code .modinfo} ELF section ({@code depends=a,b}), which is what depmod reads.
 * Module names are normalized as the kernel does: {@code virtio-rng.ko} is module
 * {@code virtio_rng}.
 */
public final class KernelModules {

    /** One loadable module: its name, its path relative to /lib/modules/VERSION, and its direct dependencies. */
    public record Module(String name, String path, List<String> depends) {
        public Module {
            depends = List.copyOf(depends);
        }
    }

    private final Map<String, String> pathByName;          // name -> relative path
    private final Map<String, List<String>> depsByName;     // known dependencies (lazily filled when scanning)
    private final Set<String> builtin;                     // names of modules built into the kernel
    private final Path root;                               // the /lib/modules/VERSION dir, or null
    private final String kernelVersion;                    // checked against vermagic, or null

    private KernelModules(Map<String, String> pathByName, Map<String, List<String>> depsByName,
                          Set<String> builtin, Path root, String kernelVersion) {
        this.pathByName = pathByName;
        this.depsByName = depsByName;
        this.builtin = builtin;
        this.root = root;
        this.kernelVersion = kernelVersion;
    }

    /**
     * The modules under {@code moduleDir} (a {@code lib/modules/VERSION} directory): from its
     * {@code modules.dep} if present, else by reading the {@code .modinfo} section of the modules
     * that are asked for (and checking their vermagic against {@code kernelVersion}, if not null).
     */
    public static KernelModules scan(Path moduleDir, String kernelVersion) throws IOException {
        Set<String> builtin = new HashSet<>();
        Path builtinFile = moduleDir.resolve("modules.builtin");
        if (Files.isRegularFile(builtinFile)) {
            for (String line : Files.readAllLines(builtinFile)) {
                if (!line.isBlank()) {
                    builtin.add(nameOf(line.strip()));
                }
            }
        }
        Path dep = moduleDir.resolve("modules.dep");
        if (Files.isRegularFile(dep)) {
            KernelModules parsed = parseModulesDep(Files.readString(dep));
            return new KernelModules(parsed.pathByName, parsed.depsByName, builtin, moduleDir, kernelVersion);
        }
        Map<String, String> paths = new HashMap<>();
        Path kernelDir = moduleDir.resolve("kernel");
        if (Files.isDirectory(kernelDir)) {
            try (Stream<Path> files = Files.walk(kernelDir)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    String file = p.getFileName().toString();
                    if (file.endsWith(".ko") && Files.isRegularFile(p)) {
                        String rel = moduleDir.relativize(p).toString().replace('\\', '/');
                        paths.merge(nameOf(file), rel, (a, b) -> a.compareTo(b) <= 0 ? a : b);
                    }
                }
            }
        }
        return new KernelModules(paths, new HashMap<>(), builtin, moduleDir, kernelVersion);
    }

    /**
     * Modules and dependencies from the text of a {@code modules.dep} file: lines
     * {@code path/a.ko: path/b.ko path/c.ko}, listing every module a needs (transitively).
     */
    public static KernelModules parseModulesDep(String text) {
        Map<String, String> paths = new LinkedHashMap<>();
        Map<String, List<String>> deps = new LinkedHashMap<>();
        int lineNo = 0;
        for (String line : text.split("\n")) {
            lineNo++;
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("modules.dep line " + lineNo + ": no ':' in '" + line + "'");
            }
            String path = line.substring(0, colon).strip();
            String name = nameOf(path);
            List<String> d = new ArrayList<>();
            for (String p : line.substring(colon + 1).strip().split("\\s+")) {
                if (!p.isEmpty()) {
                    d.add(nameOf(p));
                }
            }
            paths.put(name, path);
            deps.put(name, d);
        }
        return new KernelModules(paths, deps, Set.of(), null, null);
    }

    /** The module name of a file or path: basename without {@code .ko[.xz|.zst|.gz]}, '-' as '_'. */
    public static String nameOf(String path) {
        String base = path.substring(path.lastIndexOf('/') + 1);
        int ko = base.indexOf(".ko");
        if (ko > 0) {
            base = base.substring(0, ko);
        }
        return base.replace('-', '_');
    }

    /** The module's relative path, if this kernel has it as a loadable module. */
    public Optional<String> path(String name) {
        return Optional.ofNullable(pathByName.get(nameOf(name)));
    }

    /** Whether the module is built into the kernel (listed in modules.builtin). */
    public boolean isBuiltin(String name) {
        return builtin.contains(nameOf(name));
    }

    /** The module's direct dependencies (as listed by modules.dep or its .modinfo). */
    public List<String> depends(String name) throws IOException {
        String n = nameOf(name);
        List<String> d = depsByName.get(n);
        if (d != null) {
            return d;
        }
        String rel = pathByName.get(n);
        if (rel == null || root == null) {
            throw new IOException("no module '" + n + "' in this kernel");
        }
        Map<String, String> info = modinfo(Files.readAllBytes(root.resolve(rel)), rel);
        if (kernelVersion != null) {
            String vermagic = info.getOrDefault("vermagic", "");
            if (!vermagic.startsWith(kernelVersion + " ")) {
                throw new IOException("module " + rel + " was built for '" + vermagic
                        + "', not kernel " + kernelVersion);
            }
        }
        String dep = info.getOrDefault("depends", "");
        d = dep.isEmpty() ? List.of() : Arrays.stream(dep.split(",")).map(KernelModules::nameOf).toList();
        depsByName.put(n, d);
        return d;
    }

    /**
     * The modules to insmod, in order, to get {@code wanted}: each module preceded by everything
     * it depends on (transitively), each once. Modules built into the kernel are left out. The
     * order is deterministic: the wanted ones in the given order, each after its dependencies
     * taken in the order they are listed.
     *
     * @throws IOException if a wanted module or a dependency is neither loadable nor built in,
     *                     or the dependencies form a cycle
     */
    public List<Module> loadOrder(Collection<String> wanted) throws IOException {
        Map<String, Module> done = new LinkedHashMap<>();
        Set<String> visiting = new LinkedHashSet<>();
        for (String w : wanted) {
            visit(nameOf(w), done, visiting, null);
        }
        return List.copyOf(done.values());
    }

    private void visit(String name, Map<String, Module> done, Set<String> visiting, String neededBy)
            throws IOException {
        if (done.containsKey(name)) {
            return;
        }
        if (!pathByName.containsKey(name)) {
            if (isBuiltin(name)) {
                return;
            }
            throw new IOException("kernel module '" + name + "'"
                    + (neededBy == null ? "" : " (needed by " + neededBy + ")")
                    + " is neither a loadable module nor built into this kernel");
        }
        if (!visiting.add(name)) {
            throw new IOException("module dependency cycle: " + String.join(" -> ", visiting) + " -> " + name);
        }
        List<String> deps = depends(name);
        for (String d : deps) {
            visit(d, done, visiting, name);
        }
        visiting.remove(name);
        done.put(name, new Module(name, pathByName.get(name), deps));
    }

    /**
     * A {@code modules.dep} for just these modules (in load order), as depmod writes it: each
     * line lists all the module's dependencies, the one to load last first. Lets busybox
     * {@code modprobe} work in the guest.
     */
    public static String modulesDep(List<Module> loadOrder) {
        Map<String, Module> byName = new LinkedHashMap<>();
        for (Module m : loadOrder) {
            byName.put(m.name(), m);
        }
        StringBuilder sb = new StringBuilder();
        for (Module m : loadOrder) {
            // transitive dependencies, in load order, then reversed
            Set<String> closure = new LinkedHashSet<>();
            collect(m.name(), byName, closure);
            closure.remove(m.name());
            List<String> ordered = new ArrayList<>();
            for (Module o : loadOrder) {
                if (closure.contains(o.name())) {
                    ordered.add(o.path());
                }
            }
            sb.append(m.path()).append(':');
            for (int i = ordered.size() - 1; i >= 0; i--) {
                sb.append(' ').append(ordered.get(i));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static void collect(String name, Map<String, Module> byName, Set<String> into) {
        if (!into.add(name)) {
            return;
        }
        Module m = byName.get(name);
        if (m != null) {
            for (String d : m.depends()) {
                collect(d, byName, into);
            }
        }
    }

    // ---- .modinfo ---------------------------------------------------------------------------

    /**
     * The {@code key=value} strings of an ELF64 relocatable's {@code .modinfo} section (the
     * first value of each key). {@code what} names the file in error messages.
     */
    static Map<String, String> modinfo(byte[] elf, String what) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        if (elf.length < 64 || b.getInt(0) != 0x464C457F || elf[4] != 2 || elf[5] != 1) {
            throw new IOException(what + ": not a little-endian ELF64 file (a compressed module?)");
        }
        try {
            long shoff = b.getLong(0x28);
            int shentsize = Short.toUnsignedInt(b.getShort(0x3A));
            int shnum = Short.toUnsignedInt(b.getShort(0x3C));
            int shstrndx = Short.toUnsignedInt(b.getShort(0x3E));
            if (shentsize < 64 || shstrndx >= shnum) {
                throw new IOException(what + ": bad ELF section header table");
            }
            int strtabOff = Math.toIntExact(b.getLong(Math.toIntExact(shoff + (long) shstrndx * shentsize) + 0x18));
            for (int i = 0; i < shnum; i++) {
                int sh = Math.toIntExact(shoff + (long) i * shentsize);
                String secName = cString(elf, strtabOff + b.getInt(sh));
                if (secName.equals(".modinfo")) {
                    int off = Math.toIntExact(b.getLong(sh + 0x18));
                    int size = Math.toIntExact(b.getLong(sh + 0x20));
                    return parseModinfo(elf, off, size);
                }
            }
        } catch (IndexOutOfBoundsException | ArithmeticException e) {
            throw new IOException(what + ": truncated or malformed ELF file", e);
        }
        throw new IOException(what + ": no .modinfo section (not a kernel module?)");
    }

    private static Map<String, String> parseModinfo(byte[] elf, int off, int size) {
        Map<String, String> info = new LinkedHashMap<>();
        int end = off + size;
        int i = off;
        while (i < end) {
            int j = i;
            while (j < end && elf[j] != 0) {
                j++;
            }
            if (j > i) {
                String kv = new String(elf, i, j - i, StandardCharsets.UTF_8);
                int eq = kv.indexOf('=');
                if (eq > 0) {
                    info.putIfAbsent(kv.substring(0, eq), kv.substring(eq + 1));
                }
            }
            i = j + 1;
        }
        return info;
    }

    private static String cString(byte[] b, int off) {
        int end = off;
        while (b[end] != 0) {
            end++;
        }
        return new String(b, off, end - off, StandardCharsets.US_ASCII);
    }
}
