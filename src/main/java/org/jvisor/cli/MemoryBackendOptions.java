package org.jvisor.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.jvisor.config.MachineConfig.MemoryBackendConfig;

/**
 * QEMU's {@code -object memory-backend-memfd|memory-backend-file,id=ID,size=SIZE,...} and the
 * RAM they become with {@code -machine memory-backend=ID} (or {@code -numa node,memdev=ID}, the
 * older spelling for one node): checked as QEMU checks them, with its messages.
 */
final class MemoryBackendOptions {
    private final Map<String, MemoryBackendConfig> backends = new LinkedHashMap<>();
    private String chosen;
    private String chosenBy;

    /** Whether {@code -object TEXT} is one of these backends (the others go to ObjectOptions). */
    static boolean handles(String text) {
        try {
            OptionList o = parse(text);
            String type = o.implied() != null ? o.implied() : o.get("qom-type");
            return "memory-backend-memfd".equals(type) || "memory-backend-file".equals(type);
        } catch (UsageException e) {
            return false;   // ObjectOptions reports it
        }
    }

    /** Whether a backend called {@code id} was given. */
    boolean has(String id) {
        return backends.containsKey(id);
    }

    private static OptionList parse(String text) throws UsageException {
        return JsonOptions.isJson(text) ? JsonOptions.parse("-object", text, "qom-type") : OptionList.parse("-object", text, true);
    }

    /** {@code -object TYPE,id=ID,...} (or its JSON form) for memory-backend-memfd and memory-backend-file. */
    void object(String text) throws UsageException {
        OptionList o = parse(text);
        String type = o.implied() != null ? o.implied() : o.get("qom-type");
        if (type == null) {
            throw new UsageException("-object: no object type given (known: memory-backend-memfd, memory-backend-file)");
        }
        String id = o.get("id");
        if (id == null || id.isEmpty()) {
            throw new UsageException("-object " + type + ": Parameter 'id' is missing");
        }
        if (backends.containsKey(id)) {
            throw new UsageException("-object " + text + ": Duplicate ID '" + id + "' for object");
        }
        MemoryBackendConfig b = switch (type) {
            case "memory-backend-memfd" -> {
                o.allowOnly(Set.of("qom-type", "id", "size", "share", "seal", "hugetlb", "merge", "dump", "prealloc"), type);
                refuseOn(o, type, "hugetlb", "huge pages are not supported");
                refuseOn(o, type, "prealloc", "preallocation is not supported");
                yield new MemoryBackendConfig.Memfd(id, size(o, type), o.bool(type, "share", true), o.bool(type, "seal", true));
            }
            case "memory-backend-file" -> {
                o.allowOnly(Set.of("qom-type", "id", "size", "mem-path", "share", "merge", "dump", "prealloc"), type);
                refuseOn(o, type, "prealloc", "preallocation is not supported");
                String path = o.get("mem-path");
                if (path == null || path.isEmpty()) {
                    throw new UsageException("-object " + type + ",id=" + id + ": property 'mem-path' is required");
                }
                yield new MemoryBackendConfig.File(id, size(o, type), Path.of(path), o.bool(type, "share", false));
            }
            default -> throw new UsageException("-object: '" + type
                + "' is not an object type jvisor has (known: memory-backend-memfd, memory-backend-file)");
        };
        o.bool(type, "merge", false);
        o.bool(type, "dump", true);
        backends.put(id, b);
    }

    /** {@code -machine ...,memory-backend=ID}. */
    void machineUses(String id) throws UsageException {
        choose(id, "-machine memory-backend");
    }

    /** {@code -numa node[,nodeid=0],memdev=ID}: one node whose RAM is the backend's. */
    void numa(String text) throws UsageException {
        OptionList o = OptionList.parse("-numa", text, true);
        if (!"node".equals(o.implied())) {
            throw new UsageException("-numa: only 'node' is supported (one node, -numa node,memdev=ID)");
        }
        o.allowOnly(Set.of("memdev", "nodeid"), "node");
        if (o.get("nodeid") != null && !o.get("nodeid").equals("0")) {
            throw new UsageException("-numa node: jvisor has one NUMA node (nodeid=0)");
        }
        if (o.get("memdev") == null) {
            throw new UsageException("-numa node: memdev=ID is required (jvisor's one node takes its RAM from a memory backend)");
        }
        choose(o.get("memdev"), "-numa node,memdev");
    }

    private void choose(String id, String by) throws UsageException {
        if (chosen != null) {
            throw new UsageException(by + "=" + id + ": RAM already comes from " + chosen + " (" + chosenBy + ")");
        }
        chosen = id;
        chosenBy = by;
    }

    /**
     * The backend RAM comes from, or null; {@code memory} is -m's size or -1 when -m was not
     * given (RAM then takes the backend's size, as in QEMU).
     */
    MemoryBackendConfig resolve(long memory) throws UsageException {
        if (chosen == null) {
            return null;
        }
        MemoryBackendConfig b = backends.get(chosen);
        if (b == null) {
            throw new UsageException("Memory backend '" + chosen + "' not found");
        }
        if (memory >= 0 && memory != b.size()) {
            throw new UsageException("Machine memory size does not match the size of the memory backend (-m "
                + (memory >> 20) + "M, " + b.qemuType() + ",id=" + b.id() + " size " + (b.size() >> 20) + "M)");
        }
        return b;
    }

    /** A QEMU size: bytes, or a number with a K, M, G or T suffix (powers of 1024). */
    private static long size(OptionList o, String type) throws UsageException {
        String v = o.get("size");
        if (v == null) {
            throw new UsageException("-object " + type + ",id=" + o.get("id") + ": can't create backend with size 0");
        }
        String bad = "-object " + type + ": size='" + v + "' is not a size (bytes, or a number with K, M, G or T)";
        if (v.isEmpty()) {
            throw new UsageException(bad);
        }
        char last = Character.toUpperCase(v.charAt(v.length() - 1));
        int shift = switch (last) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            default -> 0;
        };
        String digits = shift == 0 ? v : v.substring(0, v.length() - 1);
        long n;
        try {
            n = Long.parseLong(digits.toLowerCase(Locale.ROOT));
        } catch (NumberFormatException e) {
            throw new UsageException(bad);
        }
        if (n <= 0 || n > (1L << 46) >> shift) {
            throw new UsageException(bad);
        }
        long bytes = n << shift;
        if ((bytes & 0xFFF) != 0) {
            throw new UsageException("-object " + type + ": size=" + v + " is not a multiple of the page size (4 KiB)");
        }
        return bytes;
    }

    private static void refuseOn(OptionList o, String type, String key, String why) throws UsageException {
        if (o.bool(type, key, false)) {
            throw new UsageException("-object " + type + ": " + key + "=on: " + why);
        }
    }
}
