package org.jvisor.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;

class BlockGraphTest {
    private static BlockNode.Named node(Map<String, String> options) throws BlockNodeException {
        return BlockNode.parse(options);
    }

    @Test
    void aFormatNodeOverAFileNodeIsTheDiskADriveOpens() throws BlockNodeException {
        BlockGraph g = new BlockGraph();
        g.add(node(Map.of("driver", "file", "filename", "/x.qcow2", "node-name", "s", "cache.direct", "on")), true);
        g.add(node(Map.of("driver", "qcow2", "node-name", "f", "file", "s", "read-only", "on")), true);
        assertEquals(new MachineConfig.DriveConfig("f", Path.of("/x.qcow2"), "qcow2", true, "none", false, false), g.drive("f"));
        assertNull(g.drive("nope"));
    }

    @Test
    void nodesInUseStayAndLinksAreChecked() throws BlockNodeException {
        BlockGraph g = new BlockGraph();
        BlockNode.Named raw = node(Map.of("driver", "raw", "node-name", "f", "file", "s"));
        assertEquals("Cannot find device='' nor node-name='s'", assertThrows(BlockNodeException.class, () -> g.add(raw, true)).getMessage());
        g.add(node(Map.of("driver", "file", "filename", "/x", "node-name", "s")), true);
        g.add(raw, true);
        assertEquals("Duplicate nodes with node-name='s'",
            assertThrows(BlockNodeException.class, () -> g.add(node(Map.of("driver", "file", "filename", "/y", "node-name", "s")), true))
                .getMessage());
        assertEquals("Block device s is in use", assertThrows(BlockNodeException.class, () -> g.remove("s")).getMessage());
        g.remove("f");
        g.remove("s");
        assertFalse(g.has("s"));
        assertEquals("Failed to find node with node-name='s'", assertThrows(BlockNodeException.class, () -> g.remove("s")).getMessage());
    }

    @Test
    void optionsJvisorCannotHonourAreRefusedByName() {
        assertEquals("Parameter 'driver' is missing",
            assertThrows(BlockNodeException.class, () -> node(Map.of("node-name", "n"))).getMessage());
        assertThrows(BlockNodeException.class, () -> node(Map.of("driver", "file", "node-name", "n")));
        assertThrows(BlockNodeException.class, () -> node(Map.of("driver", "file", "node-name", "n", "filename", "/x", "read-only", "maybe")));
        assertThrows(BlockNodeException.class, () -> node(Map.of("driver", "raw", "node-name", "n", "file", "s", "backing", "b")));
        assertThrows(BlockNodeException.class, () -> node(Map.of("driver", "nbd", "node-name", "n")));
    }
}
