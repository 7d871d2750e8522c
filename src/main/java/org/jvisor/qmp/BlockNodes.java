package org.jvisor.qmp;

import java.util.HashMap;
import java.util.Map;

import org.jvisor.config.BlockGraph;
import org.jvisor.config.BlockNode;
import org.jvisor.config.BlockNodeException;
import org.jvisor.config.MachineConfig;

/**
 * The monitor's block graph at run time: the named nodes (from -blockdev, blockdev-add) and which
 * of them is the medium of which drive now. A node in a drive cannot be deleted; a drive whose
 * medium went (eject, blockdev-remove-medium) or was replaced by a file (blockdev-change-medium)
 * lets its node go, as QEMU's BlockBackend drops its root.
 */
final class BlockNodes {
    private final BlockGraph graph;
    /** drive id → node-name of its medium. */
    private final Map<String, String> inserted = new HashMap<>();

    BlockNodes(QomNames names) {
        this.graph = new BlockGraph(names.graph());
        for (String drive : names.blockNodes().keySet()) {
            if (graph.has(drive)) {
                inserted.put(drive, drive);   // a -blockdev disk: its drive is named by its node
            }
        }
    }

    synchronized void add(BlockNode.Named n) throws BlockNodeException {
        graph.add(n, true);
    }

    /** qmp_blockdev_del: a node in a drive, or under another node, stays. */
    synchronized void delete(String name) throws BlockNodeException {
        if (graph.has(name) && inserted.containsValue(name)) {
            throw new BlockNodeException("Node " + name + " is in use");
        }
        graph.remove(name);
    }

    /** The disk node {@code name} opens, checked free for a drive; null when no node has that name. */
    synchronized MachineConfig.DriveConfig free(String name) throws BlockNodeException {
        MachineConfig.DriveConfig d = graph.drive(name);
        if (d != null && inserted.containsValue(name)) {
            throw new BlockNodeException("Node '" + name + "' is already in use");
        }
        return d;
    }

    /** The disk node {@code n} would open once added; null when its file= is no node. */
    synchronized MachineConfig.DriveConfig resolve(BlockNode.Named n) throws BlockNodeException {
        return graph.drive(n);
    }

    synchronized void inserted(String drive, String node) {
        inserted.put(drive, node);
    }

    /** The drive's medium is no named node any more. */
    synchronized void released(String drive) {
        inserted.remove(drive);
    }

    /** The node-name of the drive's medium; null when it is none of the named nodes. */
    synchronized String nodeOf(String drive) {
        return inserted.get(drive);
    }
}
