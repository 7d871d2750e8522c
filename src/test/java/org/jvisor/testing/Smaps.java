package org.jvisor.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One mapping of this process as the host kernel describes it in /proc/self/smaps (proc(5)): its
 * permissions ({@code rw-p} private, {@code rw-s} shared) and VmFlags ({@code mg}: KSM may merge it).
 */
public record Smaps(List<String> lines) {
    private static final Pattern HEADER = Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) .*");

    /**
     * The mapping (VMA) that holds {@code address}. The kernel joins adjacent mappings with equal
     * flags into one VMA and splits one where madvise changes the flags of a part, so the address
     * is inside the entry, not always its start.
     */
    public static Smaps at(long address) throws IOException {
        List<String> all = Files.readAllLines(Path.of("/proc/self/smaps"));
        for (int i = 0; i < all.size(); i++) {
            Matcher h = HEADER.matcher(all.get(i));
            if (h.matches() && Long.parseUnsignedLong(h.group(1), 16) <= address
                    && address < Long.parseUnsignedLong(h.group(2), 16)) {
                int end = i + 1;
                while (end < all.size() && !HEADER.matcher(all.get(end)).matches()) {
                    end++;
                }
                return new Smaps(List.copyOf(all.subList(i, end)));
            }
        }
        throw new AssertionError("no mapping holds " + Long.toHexString(address) + " in /proc/self/smaps");
    }

    /** The permissions field of the header, e.g. {@code rw-p}. */
    public String perms() {
        return lines.getFirst().split("\\s+")[1];
    }

    /** Whether VmFlags has {@code mg}: madvise(MADV_MERGEABLE) marked the mapping for KSM. */
    public boolean mergeable() {
        String flags = lines.stream().filter(l -> l.startsWith("VmFlags:")).findFirst()
            .orElseThrow(() -> new AssertionError("no VmFlags in " + this));
        return List.of(flags.substring("VmFlags:".length()).trim().split("\\s+")).contains("mg");
    }

    /** Whether this host kernel has KSM (CONFIG_KSM): madvise(MADV_MERGEABLE) fails with EINVAL without it. */
    public static boolean hostHasKsm() {
        return Files.isDirectory(Path.of("/sys/kernel/mm/ksm"));
    }

    @Override
    public String toString() {
        return String.join("\n", lines);
    }
}
