package org.jvisor.qmp;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.config.BlockNode;
import org.jvisor.config.BlockNodeException;
import org.jvisor.config.MachineConfig;
import org.jvisor.qmp.QmpCommandTable.Param;
import org.jvisor.qmp.QmpCommandTable.Type;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;
import org.jvisor.qmp.json.Keyval;

/**
 * blockdev-add and blockdev-del (qapi/block-core.json) for the nodes jvisor has ({@link BlockNode}):
 * what libvirt sends to put a new medium into a CD-ROM drive (virsh change-media: blockdev-add of
 * a file node and a format node over it, blockdev-insert-medium, blockdev-del of the old pair).
 * As QEMU's, a node is opened when it is added, so a missing or malformed image fails here.
 */
final class BlockdevCommands {
    private BlockdevCommands() {
    }

    static void register(QmpCommands commands, BlockNodes nodes) {
        commands.add("blockdev-add", List.of(new Param("driver", Type.STRING, true), new Param("node-name", Type.STRING, false),
            new Param("filename", Type.STRING, false), new Param("file", Type.ANY, false),
            new Param("read-only", Type.BOOL, false), new Param("auto-read-only", Type.BOOL, false),
            new Param("force-share", Type.BOOL, false), new Param("discard", Type.STRING, false),
            new Param("cache", Type.ANY, false), new Param("detect-zeroes", Type.STRING, false),
            new Param("aio", Type.STRING, false), new Param("locking", Type.STRING, false),
            new Param("backing", Type.ANY, false)), a -> {
                BlockNode.Named n = parse(a);
                synchronized (nodes) {
                    check(nodes, n);
                    try {
                        nodes.add(n);
                    } catch (BlockNodeException e) {
                        throw QmpError.generic(e.getMessage());
                    }
                }
                return JsonObject.EMPTY;
            });
        commands.add("blockdev-del", List.of(new Param("node-name", Type.STRING, true)), a -> {
            try {
                nodes.delete(((JsonValue.JsonString) a.members().get("node-name")).value());
            } catch (BlockNodeException e) {
                throw QmpError.generic(e.getMessage());
            }
            return JsonObject.EMPTY;
        });
    }

    private static BlockNode.Named parse(JsonObject a) throws QmpError {
        if (a.members().get("file") instanceof JsonObject) {
            throw QmpError.generic("file: give the node-name of a driver=file node (jvisor takes no inline nodes)");
        }
        if (a.members().get("force-share") instanceof JsonValue.JsonBool b && b.value()) {
            throw QmpError.generic("force-share=on is not supported (jvisor never shares an image another process writes)");
        }
        Map<String, String> options;
        try {
            options = Keyval.flatten(a);
        } catch (IllegalArgumentException e) {
            throw QmpError.generic(e.getMessage());
        }
        options.remove("force-share");
        try {
            return BlockNode.parse(options);
        } catch (BlockNodeException e) {
            throw QmpError.generic(e.getMessage());
        }
    }

    /** Opens what the node describes once, as QEMU's bdrv_open does, and closes it again. */
    private static void check(BlockNodes nodes, BlockNode.Named n) throws QmpError {
        if (n.node() instanceof BlockNode.FileNode f) {
            if (!Files.exists(Path.of(f.path()))) {
                throw QmpError.generic("Could not open '" + f.path() + "': No such file or directory");
            }
            return;
        }
        try {
            MachineConfig.DriveConfig d = nodes.resolve(n);
            if (d == null) {
                return;    // its file= is missing: BlockGraph.add says so
            }
            BlockImages.open(d.file(), d.format(), true, CacheMode.WRITEBACK, false, msg -> { }).close();
        } catch (NoSuchFileException e) {
            throw QmpError.generic("Could not open '" + e.getMessage() + "': No such file or directory");
        } catch (IOException | RuntimeException e) {
            throw QmpError.generic(n.name() + ": " + e.getMessage());
        } catch (BlockNodeException e) {
            throw QmpError.generic(e.getMessage());
        }
    }
}
