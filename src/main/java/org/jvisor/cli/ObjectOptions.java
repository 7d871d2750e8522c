package org.jvisor.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * -object TYPE,id=ID,... and its JSON form (QEMU's user-creatable objects) for the types jvisor
 * has: secret (libvirt's master key; read and checked, jvisor has no encrypted disks to use it
 * on) and memory-backend-ram (guest RAM, named by -machine memory-backend=).
 */
final class ObjectOptions {
    private final Map<String, String> types = new LinkedHashMap<>();
    private final Map<String, Long> ramBackends = new LinkedHashMap<>();

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
                for (String k : new String[] {"prealloc", "dump", "merge"}) {
                    if (o.get(k) != null) {
                        CommandLine.onOff("-object", k, o.get(k));
                    }
                }
                ramBackends.put(id, size);
            }
            default -> throw new UsageException("-object: '" + type + "' is not an object type jvisor has "
                + "(known: secret, memory-backend-ram)");
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
