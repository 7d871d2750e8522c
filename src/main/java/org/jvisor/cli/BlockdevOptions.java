package org.jvisor.cli;

import java.util.LinkedHashMap;
import java.util.Map;

import org.jvisor.config.BlockGraph;
import org.jvisor.config.BlockNode;
import org.jvisor.config.BlockNodeException;
import org.jvisor.config.MachineConfig;

/**
 * -blockdev (JSON or key=value): the command line's nodes of the block graph ({@link BlockNode}
 * reads them, as QMP's blockdev-add does); a device's drive= names one.
 */
final class BlockdevOptions {
    private final BlockGraph graph = new BlockGraph();

    void add(String text, FdSets fdSets) throws UsageException {
        OptionList o = JsonOptions.isJson(text) ? JsonOptions.parse("-blockdev", text, null)
            : OptionList.parse("-blockdev", text, false);
        Map<String, String> values = new LinkedHashMap<>(o.values());
        if (values.containsKey("filename")) {
            values.put("filename", fdSets.resolve("-blockdev file", values.get("filename")));
        }
        try {
            graph.add(BlockNode.parse(values), false);
        } catch (BlockNodeException e) {
            throw new UsageException("-blockdev: " + e.getMessage());
        }
    }

    /** The disk that drive=NAME of a device means; null when no node has that name. */
    MachineConfig.DriveConfig drive(String option, String name) throws UsageException {
        try {
            return graph.drive(name);
        } catch (BlockNodeException e) {
            throw new UsageException(option + ": " + e.getMessage());
        }
    }

    /** The nodes as given, for the monitor's run-time graph. */
    Map<String, BlockNode> nodes() {
        return graph.nodes();
    }
}
