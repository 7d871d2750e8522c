package org.jvisor.gdb;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The target description gdb reads with {@code qXfer:features:read} (GDB manual, "Target
 * Descriptions"): as QEMU 7.2 does for x86-64, a {@code target.xml} naming the architecture
 * and including {@code i386-64bit.xml}, the {@code org.gnu.gdb.i386.core} feature whose registers
 * are {@link GdbRegister}'s, in its order. The flag fields are the SDM's bit names, which gdb shows
 * in {@code info registers} ({@code eflags [ IOPL=0 ZF PF ]}).
 */
final class TargetDescription {
    static final String TARGET = "target.xml";
    static final String CORE = "i386-64bit.xml";

    private static final String TARGET_XML = "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
        + "<target><architecture>i386:x86-64</architecture><xi:include href=\"" + CORE + "\"/></target>";

    private TargetDescription() {
    }

    /** The document called {@code annex}, or null when there is none. */
    static byte[] document(String annex) {
        return DOCUMENTS.get(annex);
    }

    /** A flags type: bit fields, highest first as in the SDM's figures. */
    private record Flags(String id, int size, Field... fields) {
    }

    private record Field(String name, int start, int end) {
        static Field bit(String name, int bit) {
            return new Field(name, bit, bit);
        }
    }

    private static final Flags[] FLAGS = {
        // RFLAGS (SDM vol. 1, 3.4.3)
        new Flags("x64_eflags", 4, Field.bit("ID", 21), Field.bit("VIP", 20), Field.bit("VIF", 19), Field.bit("AC", 18),
            Field.bit("VM", 17), Field.bit("RF", 16), Field.bit("NT", 14), new Field("IOPL", 12, 13), Field.bit("OF", 11),
            Field.bit("DF", 10), Field.bit("IF", 9), Field.bit("TF", 8), Field.bit("SF", 7), Field.bit("ZF", 6),
            Field.bit("AF", 4), Field.bit("PF", 2), Field.bit("CF", 0)),
        // control registers and EFER (SDM vol. 3, 2.5 and 2.2.1)
        new Flags("x64_cr0", 8, Field.bit("PG", 31), Field.bit("CD", 30), Field.bit("NW", 29), Field.bit("AM", 18),
            Field.bit("WP", 16), Field.bit("NE", 5), Field.bit("ET", 4), Field.bit("TS", 3), Field.bit("EM", 2),
            Field.bit("MP", 1), Field.bit("PE", 0)),
        new Flags("x64_cr3", 8, new Field("PDBR", 12, 63), new Field("PCID", 0, 11)),
        new Flags("x64_cr4", 8, Field.bit("PKE", 22), Field.bit("SMAP", 21), Field.bit("SMEP", 20), Field.bit("OSXSAVE", 18),
            Field.bit("PCIDE", 17), Field.bit("FSGSBASE", 16), Field.bit("SMXE", 14), Field.bit("VMXE", 13),
            Field.bit("LA57", 12), Field.bit("UMIP", 11), Field.bit("OSXMMEXCPT", 10), Field.bit("OSFXSR", 9),
            Field.bit("PCE", 8), Field.bit("PGE", 7), Field.bit("MCE", 6), Field.bit("PAE", 5), Field.bit("PSE", 4),
            Field.bit("DE", 3), Field.bit("TSD", 2), Field.bit("PVI", 1), Field.bit("VME", 0)),
        new Flags("x64_efer", 8, Field.bit("TCE", 15), Field.bit("FFXSR", 14), Field.bit("LMSLE", 13), Field.bit("SVME", 12),
            Field.bit("NXE", 11), Field.bit("LMA", 10), Field.bit("LME", 8), Field.bit("SCE", 0)),
        // MXCSR (SDM vol. 1, 10.2.3), lowest first as gdb's own i386 description lists it
        new Flags("x64_mxcsr", 4, Field.bit("IE", 0), Field.bit("DE", 1), Field.bit("ZE", 2), Field.bit("OE", 3),
            Field.bit("UE", 4), Field.bit("PE", 5), Field.bit("DAZ", 6), Field.bit("IM", 7), Field.bit("DM", 8),
            Field.bit("ZM", 9), Field.bit("OM", 10), Field.bit("UM", 11), Field.bit("PM", 12), Field.bit("FZ", 15)),
    };

    /** After {@link #FLAGS}, which {@link #core} reads (static initializers run in order). */
    private static final Map<String, byte[]> DOCUMENTS = Map.of(
        TARGET, TARGET_XML.getBytes(StandardCharsets.UTF_8),
        CORE, core().getBytes(StandardCharsets.UTF_8));

    private static String core() {
        StringBuilder x = new StringBuilder();
        x.append("<?xml version=\"1.0\"?>\n<!DOCTYPE feature SYSTEM \"gdb-target.dtd\">\n");
        x.append("<feature name=\"org.gnu.gdb.i386.core\">\n");
        for (Flags f : FLAGS) {
            x.append("  <flags id=\"").append(f.id()).append("\" size=\"").append(f.size()).append("\">\n");
            for (Field b : f.fields()) {
                x.append("    <field name=\"").append(b.name()).append("\" start=\"").append(b.start())
                    .append("\" end=\"").append(b.end()).append("\"/>\n");
            }
            x.append("  </flags>\n");
        }
        x.append("""
              <vector id="v4f" type="ieee_single" count="4"/>
              <vector id="v2d" type="ieee_double" count="2"/>
              <vector id="v16i8" type="int8" count="16"/>
              <vector id="v8i16" type="int16" count="8"/>
              <vector id="v4i32" type="int32" count="4"/>
              <vector id="v2i64" type="int64" count="2"/>
              <union id="vec128">
                <field name="v4_float" type="v4f"/>
                <field name="v2_double" type="v2d"/>
                <field name="v16_int8" type="v16i8"/>
                <field name="v8_int16" type="v8i16"/>
                <field name="v4_int32" type="v4i32"/>
                <field name="v2_int64" type="v2i64"/>
                <field name="uint128" type="uint128"/>
              </union>
            """);
        for (GdbRegister r : GdbRegister.values()) {
            x.append("  <reg name=\"").append(r.gdbName()).append("\" bitsize=\"").append(r.bits())
                .append("\" type=\"").append(r.type()).append('"');
            if (r.group() != null) {
                x.append(" group=\"").append(r.group()).append('"');
            }
            if (r.ordinal() == 0) {
                x.append(" regnum=\"0\"");
            }
            x.append("/>\n");
        }
        x.append("</feature>\n");
        return x.toString();
    }
}
