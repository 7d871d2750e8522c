package org.jvisor.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jvisor.config.MachineConfig;
import java.util.Set;

/**
 * -object TYPE,id=ID,... and its JSON form (QEMU's user-creatable objects) for the types jvisor
 * has: secret (libvirt's master key; read and checked, jvisor has no encrypted disks to use it
 * on), memory-backend-ram (guest RAM, named by -machine memory-backend=) and iothread (a thread
 * that serves the queues of the virtio-blk devices naming it, polling them: QEMU's sidecore), and
 * the rng backends a virtio-rng's rng= names (rng-builtin, rng-random; rng-egd is refused).
 */
final class ObjectOptions {
    private final Map<String, String> types = new LinkedHashMap<>();
    private final Map<String, Long> ramBackends = new LinkedHashMap<>();
    /** merge= of the memory-backend-ram objects that give it (absent: the machine's mem-merge). */
    private final Map<String, Boolean> ramMerge = new LinkedHashMap<>();
    private final List<MachineConfig.IoThreadConfig> ioThreads = new ArrayList<>();
    private final Map<String, MachineConfig.RngBackend> rngBackends = new LinkedHashMap<>();

    void add(String text, FdSets fdSets) throws UsageException {
        OptionList o = JsonOptions.isJson(text) ? JsonOptions.parse("-object", text, "qom-type")
            : OptionList.parse("-object", text, true);
        String type = o.implied() != null ? o.implied() : o.get("qom-type");
        if (type == null) {
            throw new UsageException("-object: no object type given (e.g. -object memory-backend-ram,id=ram0,size=512M)");
        }
        String id = o.get("id");
        if (id == null || id.isEmpty()) {
            throw new UsageException("-object " + type + ": Parameter 'id' is missing");
        }
        if (types.containsKey(id)) {
            throw new UsageException("-object " + type + ": attempt to add duplicate property '" + id + "' to object");
        }
        switch (type) {
            case "secret" -> {
                o.allowOnly(Set.of("qom-type", "id", "format", "file", "data", "keyid", "iv"), type);
                String format = o.get("format") == null ? "raw" : o.get("format");
                if (!format.equals("raw") && !format.equals("base64")) {
                    throw new UsageException("-object secret: format=" + format + " (expected raw or base64)");
                }
                if ((o.get("file") == null) == (o.get("data") == null)) {
                    throw new UsageException("-object secret,id=" + id + ": give exactly one of file= or data=");
                }
                if (o.get("keyid") != null) {
                    throw new UsageException("-object secret: keyid= (an encrypted secret) is not supported");
                }
                String file = fdSets.resolve("-object secret", o.get("file"));
                if (file != null && !Files.isReadable(Path.of(file))) {
                    throw new UsageException("-object secret,id=" + id + ": Unable to read " + file);
                }
            }
            case "memory-backend-ram" -> {
                o.allowOnly(Set.of("qom-type", "id", "size", "share", "prealloc", "dump", "merge"), type);
                if (o.get("size") == null) {
                    throw new UsageException("-object memory-backend-ram,id=" + id + ": can't create backend with size 0");
                }
                long size = parseSize(o.get("size"));
                if (o.get("share") != null && CommandLine.onOff("-object", "share", o.get("share"))) {
                    throw new UsageException("-object memory-backend-ram: share=on is not supported (jvisor's RAM is private)");
                }
                for (String k : new String[] {"prealloc", "dump"}) {
                    if (o.get(k) != null) {
                        CommandLine.onOff("-object", k, o.get(k));
                    }
                }
                if (o.get("merge") != null) {
                    ramMerge.put(id, CommandLine.onOff("-object", "merge", o.get("merge")));
                }
                ramBackends.put(id, size);
            }
            case "iothread" -> {
                o.allowOnly(Set.of("qom-type", "id", "poll-max-ns", "poll-grow", "poll-shrink", "aio-max-batch"), type);
                if (o.get("aio-max-batch") != null && nonNegative(o, id, "aio-max-batch", 0) != 0) {
                    throw new UsageException("-object iothread,id=" + id + ": aio-max-batch is not supported "
                        + "(jvisor's block requests are synchronous; 0 only)");
                }
                ioThreads.add(new MachineConfig.IoThreadConfig(id,
                    nonNegative(o, id, "poll-max-ns", MachineConfig.IoThreadConfig.DEFAULT_POLL_MAX_NS),
                    nonNegative(o, id, "poll-grow", 0), nonNegative(o, id, "poll-shrink", 0)));
            }
            case "rng-builtin" -> {
                o.allowOnly(Set.of("qom-type", "id", "opened"), type);
                rngBackends.put(id, new MachineConfig.RngBackend.Builtin());
            }
            case "rng-random" -> {
                o.allowOnly(Set.of("qom-type", "id", "filename", "opened"), type);
                String file = o.get("filename") == null ? MachineConfig.RngBackend.RandomFile.DEFAULT_FILE
                    : fdSets.resolve("-object rng-random", o.get("filename"));
                rngBackends.put(id, new MachineConfig.RngBackend.RandomFile(file));
            }
            case "rng-egd" -> throw new UsageException("-object rng-egd: the EGD protocol backend is not supported "
                + "(use rng-random,filename=F or rng-builtin)");
            default -> throw new UsageException("-object: '" + type + "' is not an object type jvisor has "
                + "(known: secret, memory-backend-ram, iothread, rng-builtin, rng-random)");
        }
        types.put(id, type);
    }

    /**
     * The size of the memory-backend-ram {@code id} (named by -machine memory-backend=); it must be
     * the RAM size -m gives, as QEMU requires.
     */
    long ramBackendSize(String id) throws UsageException {
        Long size = ramBackends.get(id);
        if (size == null) {
            throw new UsageException("Memory backend '" + id + "' not found");   // QEMU's words
        }
        return size;
    }

    /**
     * Whether the memory-backend-ram {@code id} lets the host merge its pages: its merge=, else
     * {@code machineDefault} (-machine mem-merge=), as QEMU's backends take the machine's setting.
     */
    boolean ramBackendMerge(String id, boolean machineDefault) {
        return ramMerge.getOrDefault(id, machineDefault);
    }

    /** The -object rng-builtin or rng-random {@code id}, or null if there is none. */
    MachineConfig.RngBackend rngBackend(String id) {
        return rngBackends.get(id);
    }

    /** The -object iothread objects, in command-line order. */
    List<MachineConfig.IoThreadConfig> ioThreads() {
        return List.copyOf(ioThreads);
    }

    /** Whether {@code id} names an -object iothread. */
    boolean isIoThread(String id) {
        return "iothread".equals(types.get(id));
    }

    /** An iothread property: a count of nanoseconds or a factor, 0 or more (QEMU's int64 property). */
    private static long nonNegative(OptionList o, String id, String key, long dflt) throws UsageException {
        String v = o.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            long n = Long.parseLong(v);
            if (n < 0) {
                // QEMU 7.2's words for a negative poll-max-ns
                throw new UsageException("-object iothread,id=" + id + ": " + key + " value must be in range [0, "
                    + Long.MAX_VALUE + "]");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("-object iothread,id=" + id + ": Parameter '" + key + "' expects an integer");
        }
    }

    /** A byte count: a number, or with QEMU's K/M/G/T suffix. */
    private static long parseSize(String text) throws UsageException {
        if (text.matches("[0-9]+")) {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException e) {
                throw new UsageException("-object: size=" + text + " is too large");
            }
        }
        try {
            return CommandLine.parseMemory(text);
        } catch (UsageException e) {
            throw new UsageException("-object: size='" + text + "' is not a size");
        }
    }
}
