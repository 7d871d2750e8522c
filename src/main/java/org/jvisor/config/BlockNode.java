package org.jvisor.config;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A node of QEMU's block graph as jvisor's disks reach it (qapi/block-core.json BlockdevOptions):
 * a protocol node ("file": an image file) carries the path; a format node on top of it ("raw",
 * "qcow2") is what a device's drive= or blockdev-insert-medium's node-name names. libvirt always
 * gives the pair (libvirt-N-storage under libvirt-N-format). The same options arrive from
 * -blockdev and from QMP's blockdev-add, both flattened to QEMU's dotted keys ("cache.direct").
 */
public sealed interface BlockNode {
    /** Which read-only-ness the node asked for. */
    boolean readOnly();

    /** discard=unmap (or on): the guest's discards free space; QEMU's default, ignore, is false. */
    boolean unmap();

    /** driver=file: the image at {@code path}. */
    record FileNode(String path, boolean readOnly, boolean direct, boolean unmap) implements BlockNode {
        /** With QEMU's default discard=ignore. */
        public FileNode(String path, boolean readOnly, boolean direct) {
            this(path, readOnly, direct, false);
        }
    }

    /** A format driver over the node named {@code file}. */
    record FormatNode(String driver, String file, boolean readOnly, boolean unmap) implements BlockNode {
        /** With QEMU's default discard=ignore. */
        public FormatNode(String driver, String file, boolean readOnly) {
            this(driver, file, readOnly, false);
        }
    }

    /** A named node, as {@link #parse} reads it. */
    record Named(String name, BlockNode node) {
    }

    /**
     * Reads one node from its options ({@code driver}, {@code node-name} and the driver's own),
     * with QEMU's error texts where QEMU has one. Which image formats exist is decided here.
     *
     * @param options the flattened options; booleans on/off (also yes/no, true/false)
     */
    static Named parse(Map<String, String> options) throws BlockNodeException {
        String driver = options.get("driver");
        if (driver == null) {
            throw new BlockNodeException("Parameter 'driver' is missing");
        }
        String name = options.get("node-name");
        if (name == null || name.isEmpty()) {
            throw new BlockNodeException(driver + ": node-name is required (jvisor names no nodes itself)");
        }
        boolean readOnly = bool(options, "read-only", false);
        String discard = options.get("discard");
        if (discard != null && !List.of("ignore", "off", "unmap", "on").contains(discard)) {
            throw new BlockNodeException("discard=" + discard + " (expected ignore, off, unmap or on)");
        }
        boolean unmap = "unmap".equals(discard) || "on".equals(discard);
        String zeroes = options.get("detect-zeroes");
        if (zeroes != null && !zeroes.equals("off")) {
            throw new BlockNodeException("detect-zeroes=" + zeroes + " is not supported (jvisor writes zeroes as "
                + "the guest sends them: off)");
        }
        if (bool(options, "cache.no-flush", false)) {
            throw new BlockNodeException("cache.no-flush=on is not supported (jvisor always honours the guest's flushes)");
        }
        Set<String> common = Set.of("driver", "node-name", "read-only", "auto-read-only", "discard", "cache.direct",
            "cache.no-flush", "detect-zeroes");
        BlockNode node = switch (driver) {
            case "file" -> {
                allowOnly(options, common, Set.of("filename", "aio", "locking"), driver);
                String file = options.get("filename");
                if (file == null || file.isEmpty()) {
                    throw new BlockNodeException("file: Parameter 'filename' is missing");
                }
                String aio = options.get("aio");
                if (aio != null && !List.of("threads", "native", "io_uring").contains(aio)) {
                    throw new BlockNodeException("file: aio=" + aio + " (expected threads, native or io_uring)");
                }
                String locking = options.get("locking");
                if (locking != null && !List.of("on", "off", "auto").contains(locking)) {
                    throw new BlockNodeException("locking=" + locking + " (expected on, off or auto)");
                }
                bool(options, "auto-read-only", false);
                yield new FileNode(file, readOnly, bool(options, "cache.direct", false), unmap);
            }
            case "raw", "qcow2" -> {
                // qcow2's backing chain is the image's own (its header names it); libvirt gives backing=null
                // or the same chain as nodes
                allowOnly(options, common, driver.equals("raw") ? Set.of("file") : Set.of("file", "backing"), driver);
                String file = options.get("file");
                if (file == null || file.isEmpty()) {
                    throw new BlockNodeException(driver + ": Parameter 'file' is missing (the node-name of a file node)");
                }
                yield new FormatNode(driver, file, readOnly, unmap);
            }
            case "vmdk", "vdi", "vpc", "vhdx", "qed", "luks" -> throw new BlockNodeException("driver '" + driver
                + "' is not supported by jvisor (image formats: raw, qcow2)");
            default -> throw new BlockNodeException("Parameter 'driver' does not accept value '" + driver
                + "' (jvisor's block drivers: file, raw, qcow2)");
        };
        return new Named(name, node);
    }

    private static void allowOnly(Map<String, String> options, Set<String> common, Set<String> own, String driver)
            throws BlockNodeException {
        for (String k : options.keySet()) {
            if (!common.contains(k) && !own.contains(k)) {
                Set<String> known = new TreeSet<>(common);
                known.addAll(own);
                throw new BlockNodeException(driver + ": unknown property '" + k + "' (known: " + String.join(", ", known) + ")");
            }
        }
    }

    private static boolean bool(Map<String, String> options, String key, boolean dflt) throws BlockNodeException {
        String v = options.get(key);
        if (v == null) {
            return dflt;
        }
        return switch (v) {
            case "on", "yes", "true" -> true;
            case "off", "no", "false" -> false;
            default -> throw new BlockNodeException(key + "='" + v + "' (expected on or off)");
        };
    }
}
