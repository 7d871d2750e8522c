package org.jvisor.sys;

import java.util.ArrayList;
import java.util.List;

/**
 * Renders a flags argument the way the C source spells it ("O_RDWR|O_CLOEXEC"), for error
 * messages. An entry is a field value under a mask (O_RDONLY is 0 under O_ACCMODE) or a single
 * bit; bits no entry names are shown in hex.
 */
final class FlagNames {
    private record Entry(int mask, int value, String name) {
    }

    private final String none;
    private final List<Entry> entries = new ArrayList<>();

    /** {@code none} names the value 0 when no entry matches it ("PROT_NONE"). */
    FlagNames(String none) {
        this.none = none;
    }

    /** A single bit. */
    FlagNames bit(int bit, String name) {
        return field(bit, bit, name);
    }

    /** {@code value} of the field under {@code mask}; a field is named once. */
    FlagNames field(int mask, int value, String name) {
        entries.add(new Entry(mask, value, name));
        return this;
    }

    String format(int value) {
        StringBuilder sb = new StringBuilder();
        int rest = value;
        int seen = 0;
        for (Entry e : entries) {
            if ((seen & e.mask) == 0 && (rest & e.mask) == e.value) {
                seen |= e.mask;
                rest &= ~e.mask;
                sb.append(sb.isEmpty() ? "" : "|").append(e.name);
            }
        }
        if (rest != 0) {
            sb.append(sb.isEmpty() ? "" : "|").append("0x").append(Integer.toHexString(rest));
        }
        return sb.isEmpty() ? none : sb.toString();
    }
}
