package org.jvisor.boot.linux;

/**
 * A guest-physical range the loader must keep out of usable RAM and put into the e820 map with
 * {@code type}: ACPI tables (type {@link E820Map.Type#ACPI}), firmware data, or an MMIO window the
 * guest should see as reserved (such a range may lie outside RAM, e.g. PCIe ECAM in the hole).
 *
 * @param what names the range in error messages ("ACPI tables")
 */
public record ReservedRange(long start, long size, E820Map.Type type, String what) {
    public ReservedRange {
        if (start < 0 || size <= 0 || start + size < start) {
            throw new IllegalArgumentException(String.format("bad reserved range %s: [%#x, +%#x)", what, start, size));
        }
        if (type == E820Map.Type.RAM) {
            throw new IllegalArgumentException("reserved range " + what + " cannot have type RAM");
        }
    }

    public long end() {
        return start + size;
    }

    public boolean overlaps(long from, long length) {
        return from < end() && start < from + length;
    }
}
