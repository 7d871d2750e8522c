package org.jvisor.config;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The named block nodes: those -blockdev gave and, at run time, those blockdev-add added and
 * blockdev-del removed. A format node resolves to the disk a drive opens ({@link #drive}). Safe
 * for the monitors' threads.
 */
public final class BlockGraph {
    private final Map<String, BlockNode> nodes = new LinkedHashMap<>();

    public BlockGraph() {
    }

    /** A copy of {@code nodes}, in their order. */
    public BlockGraph(Map<String, BlockNode> nodes) {
        this.nodes.putAll(nodes);
    }

    /**
     * Adds a node. With {@code linked} its file= must name a file node already there (blockdev-add,
     * as QEMU opens the node at once); without, that is checked when a drive uses it (-blockdev).
     */
    public synchronized void add(BlockNode.Named n, boolean linked) throws BlockNodeException {
        if (nodes.containsKey(n.name())) {
            throw new BlockNodeException("Duplicate nodes with node-name='" + n.name() + "'");
        }
        if (linked && n.node() instanceof BlockNode.FormatNode f && !nodes.containsKey(f.file())) {
            throw new BlockNodeException("Cannot find device='' nor node-name='" + f.file() + "'");
        }
        nodes.put(n.name(), n.node());
    }

    /**
     * Removes an unused node (blockdev-del; qmp_blockdev_del's checks but the drive's, which the
     * caller knows).
     */
    public synchronized void remove(String name) throws BlockNodeException {
        if (!nodes.containsKey(name)) {
            throw new BlockNodeException("Failed to find node with node-name='" + name + "'");
        }
        for (BlockNode other : nodes.values()) {
            if (other instanceof BlockNode.FormatNode f && f.file().equals(name)) {
                throw new BlockNodeException("Block device " + name + " is in use");
            }
        }
        nodes.remove(name);
    }

    public synchronized boolean has(String name) {
        return nodes.containsKey(name);
    }

    public synchronized List<String> names() {
        return List.copyOf(nodes.keySet());
    }

    /** The nodes, in their order. */
    public synchronized Map<String, BlockNode> nodes() {
        return new LinkedHashMap<>(nodes);
    }

    /**
     * The disk that a drive opens when it uses node {@code name}: a format node over a file node,
     * or a file node itself (raw, as QEMU allows a protocol node as a drive); null for no such node.
     */
    public synchronized MachineConfig.DriveConfig drive(String name) throws BlockNodeException {
        BlockNode n = nodes.get(name);
        return n == null ? null : resolve(name, n);
    }

    /** The disk the node {@code n}, not added yet, would open; null when its file= is no node. */
    public synchronized MachineConfig.DriveConfig drive(BlockNode.Named n) throws BlockNodeException {
        if (n.node() instanceof BlockNode.FormatNode f && !nodes.containsKey(f.file())) {
            return null;
        }
        return resolve(n.name(), n.node());
    }

    private MachineConfig.DriveConfig resolve(String name, BlockNode n) throws BlockNodeException {
        return switch (n) {
            case BlockNode.FileNode f -> new MachineConfig.DriveConfig(name, Path.of(f.path()), "raw", f.readOnly(),
                f.direct() ? "none" : "writeback", false, false, discard(f));
            case BlockNode.FormatNode fmt -> {
                if (!(nodes.get(fmt.file()) instanceof BlockNode.FileNode f)) {
                    throw new BlockNodeException("the " + fmt.driver() + " node '" + name + "' has file='" + fmt.file()
                        + "', which is not a driver=file node");
                }
                // the format node's discard= decides for the drive: it is where the guest's discards arrive
                yield new MachineConfig.DriveConfig(name, Path.of(f.path()), fmt.driver(), fmt.readOnly() || f.readOnly(),
                    f.direct() ? "none" : "writeback", false, false, discard(fmt));
            }
        };
    }

    private static String discard(BlockNode n) {
        return n.unmap() ? "unmap" : "ignore";
    }
}
