package org.jvisor.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.jvisor.config.MachineConfig;

/**
 * -blockdev (JSON or key=value): QEMU's block graph, as far as jvisor's disks reach. A protocol
 * node ("file": an image file) carries the path; a format node on top of it ("raw") is what a
 * device's drive= names. libvirt always gives the pair (libvirt-N-storage under libvirt-N-format).
 * Which image formats exist is decided in one place, {@link #formatNode}.
 */
final class BlockdevOptions {
    /** A node of the graph, by node-name. */
    private sealed interface Node {
    }

    /** driver=file: the image at {@code path}. */
    private record FileNode(String path, boolean readOnly, boolean direct) implements Node {
    }

    /** A format driver over the node {@code file}. */
    private record FormatNode(String driver, String file, boolean readOnly) implements Node {
    }

    private final Map<String, Node> nodes = new LinkedHashMap<>();

    void add(String text, FdSets fdSets) throws UsageException {
        OptionList o = JsonOptions.isJson(text) ? JsonOptions.parse("-blockdev", text, null)
            : OptionList.parse("-blockdev", text, false);
        String driver = o.get("driver");
        if (driver == null) {
            throw new UsageException("-blockdev: Parameter 'driver' is missing");
        }
        String name = o.get("node-name");
        if (name == null || name.isEmpty()) {
            throw new UsageException("-blockdev " + driver + ": node-name is required (jvisor names no nodes itself)");
        }
        if (nodes.containsKey(name)) {
            throw new UsageException("-blockdev: Duplicate nodes with node-name='" + name + "'");
        }
        boolean readOnly = o.get("read-only") != null && CommandLine.onOff("-blockdev", "read-only", o.get("read-only"));
        String discard = o.get("discard");
        if (discard != null && !List.of("ignore", "off", "unmap", "on").contains(discard)) {
            throw new UsageException("-blockdev: discard=" + discard + " (expected ignore or unmap)");
        }
        String zeroes = o.get("detect-zeroes");
        if (zeroes != null && !zeroes.equals("off")) {
            throw new UsageException("-blockdev: detect-zeroes=" + zeroes + " is not supported (jvisor writes zeroes as "
                + "the guest sends them: off)");
        }
        Node node;
        if (driver.equals("file")) {
            o.allowOnly(Set.of("driver", "node-name", "filename", "read-only", "auto-read-only", "discard",
                "cache.direct", "cache.no-flush", "aio", "locking", "detect-zeroes"), driver);
            String file = fdSets.resolve("-blockdev file", o.get("filename"));
            if (file == null || file.isEmpty()) {
                throw new UsageException("-blockdev file: Parameter 'filename' is missing");
            }
            String aio = o.get("aio");
            if (aio != null && !aio.equals("threads") && !aio.equals("native") && !aio.equals("io_uring")) {
                throw new UsageException("-blockdev file: aio=" + aio + " (expected threads, native or io_uring)");
            }
            checkOptional(o, "auto-read-only", "locking");
            noFlushOff(o);
            node = new FileNode(file, readOnly,
                o.get("cache.direct") != null && CommandLine.onOff("-blockdev", "cache.direct", o.get("cache.direct")));
        } else {
            node = formatNode(driver, o, readOnly);
        }
        nodes.put(name, node);
    }

    /**
     * The format drivers: raw and qcow2 (both opened by BlockImages). Anything else is a format
     * jvisor cannot read, and QEMU's own error for an unknown driver.
     */
    private static Node formatNode(String driver, OptionList o, boolean readOnly) throws UsageException {
        return switch (driver) {
            case "raw", "qcow2" -> {
                // qcow2's backing chain is the image's own (its header names it); libvirt gives backing=null or
                // the same chain as nodes
                o.allowOnly(driver.equals("raw") ? Set.of("driver", "node-name", "file", "read-only", "auto-read-only",
                    "discard", "cache.direct", "cache.no-flush", "detect-zeroes")
                    : Set.of("driver", "node-name", "file", "read-only", "auto-read-only", "discard", "cache.direct",
                    "cache.no-flush", "detect-zeroes", "backing"), driver);
                noFlushOff(o);
                String file = o.get("file");
                if (file == null || file.isEmpty()) {
                    throw new UsageException("-blockdev raw: Parameter 'file' is missing (the node-name of a file node)");
                }
                yield new FormatNode(driver, file, readOnly);
            }
            case "vmdk", "vdi", "vpc", "vhdx", "qed", "luks" -> throw new UsageException("-blockdev: driver '"
                + driver + "' is not supported by jvisor (image formats: raw, qcow2)");
            default -> throw new UsageException("-blockdev: Parameter 'driver' does not accept value '" + driver
                + "' (jvisor's block drivers: file, raw, qcow2)");
        };
    }

    /**
     * The disk that drive=NAME of a device means: a format node over a file node, or a file node
     * itself (raw, as QEMU allows a protocol node as a drive).
     */
    MachineConfig.DriveConfig drive(String option, String name) throws UsageException {
        Node n = nodes.get(name);
        if (n == null) {
            return null;
        }
        return switch (n) {
            case FileNode f -> new MachineConfig.DriveConfig(name, Path.of(f.path()), f.readOnly(),
                f.direct() ? "none" : "writeback", false);
            case FormatNode fmt -> {
                if (!(nodes.get(fmt.file()) instanceof FileNode f)) {
                    throw new UsageException(option + ": the " + fmt.driver() + " node '" + name + "' has file='" + fmt.file()
                        + "', which is not a -blockdev driver=file node");
                }
                yield new MachineConfig.DriveConfig(name, Path.of(f.path()), fmt.driver(), fmt.readOnly() || f.readOnly(),
                    f.direct() ? "none" : "writeback", false, false);
            }
        };
    }

    /** Whether a node of this name exists. */
    boolean has(String name) {
        return nodes.containsKey(name);
    }

    /** The node names, for messages. */
    List<String> names() {
        return List.copyOf(nodes.keySet());
    }

    private static void checkOptional(OptionList o, String... keys) throws UsageException {
        for (String k : keys) {
            String v = o.get(k);
            if (v != null && !k.equals("locking")) {
                CommandLine.onOff("-blockdev", k, v);
            } else if (v != null && !v.equals("on") && !v.equals("off") && !v.equals("auto")) {
                throw new UsageException("-blockdev: locking=" + v + " (expected on, off or auto)");
            }
        }
    }

    /** cache.no-flush=on (drop the guest's flushes) is not something jvisor does. */
    private static void noFlushOff(OptionList o) throws UsageException {
        if (o.get("cache.no-flush") != null && CommandLine.onOff("-blockdev", "cache.no-flush", o.get("cache.no-flush"))) {
            throw new UsageException("-blockdev: cache.no-flush=on is not supported (jvisor always honours the guest's flushes)");
        }
    }
}
