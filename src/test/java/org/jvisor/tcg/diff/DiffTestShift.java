package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.NO_PREFIX;
import static org.jvisor.tcg.diff.Asm.op;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Group 2 shifts and rotates (by 1, imm8 and CL) and SHLD/SHRD, with counts 0, 1, n, the width and
 * beyond. Undefined flags per the SDM: OF unless the masked count is 1, AF for shifts, CF for
 * SHL/SHR (and SAR) when the count reaches the operand width; nothing when the count is 0.
 */
class DiffTestShift {
    static final List<String> GROUP2 = List.of("rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar");

    static int count(Gen g, int size) {
        return switch (g.r.nextInt(8)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> size - 1 + g.r.nextInt(3);
            case 3 -> 32 + g.r.nextInt(3) - 1;
            case 4 -> 64 + g.r.nextInt(3) - 1;
            case 5 -> g.r.nextInt(256);
            default -> 2 + g.r.nextInt(size - 2);
        };
    }

    static void group2(Gen g, int ext) {
        int size = g.size();
        int w = size == 8 ? 0 : 1;
        Gen.Ops o = g.ops(size, 0, true, 16);
        g.setOperand(o.rm(), size, g.interesting(size));
        int form = g.r.nextInt(3);
        int count;
        switch (form) {
            case 0 -> {
                count = 1;
                g.a.modrm(size, NO_PREFIX, op(0xD0 + w), ext, true, o.rm(), true, 0, 0);
            }
            case 1 -> {
                count = count(g, size);
                g.a.modrm(size, NO_PREFIX, op(0xC0 + w), ext, true, o.rm(), true, count, 1);
            }
            default -> {
                if (!(o.rm() instanceof Asm.Reg reg && Gen.full(reg.num()) == 1) || g.chance(4)) {
                    g.setReg(1, 8, count(g, size));
                }
                count = (int) (g.regs[1] & 0xFF);
                g.a.modrm(size, NO_PREFIX, op(0xD2 + w), ext, true, o.rm(), true, 0, 0);
            }
        }
        int masked = count & (size == 64 ? 63 : 31);
        if (masked != 0) {
            if (masked != 1) {
                g.flagMask &= ~Gen.OF;
            }
            if (ext >= 4) {
                g.flagMask &= ~Gen.AF;
                if (masked >= size) {
                    g.flagMask &= ~Gen.CF;
                }
            }
        }
        g.note(GROUP2.get(ext) + " count " + count);
    }

    /** SHLD (0F A4/A5) or SHRD (0F AC/AD) r/m, reg, imm8/CL. */
    static void doubleShift(Gen g, boolean right) {
        int size = g.sizeNo8();
        Gen.Ops o = g.ops(size, 1, true, 16);
        g.setOperand(o.rm(), size, g.interesting(size));
        g.setReg(o.reg(0), size, g.interesting(size));
        int count;
        int opc = right ? 0xAC : 0xA4;
        do {
            count = count(g, size);
        } while (size == 16 && (count & 31) > 16); // result undefined
        if (g.r.nextBoolean()) {
            g.a.modrm(size, NO_PREFIX, op(0x0F, opc), o.reg(0), false, o.rm(), false, count, 1);
        } else {
            boolean rmIsRcx = o.rm() instanceof Asm.Reg reg && reg.num() == 1;
            if (o.reg(0) == 1 || rmIsRcx) {
                count = (int) (g.regs[1] & 0xFF);
                if (size == 16 && (count & 31) > 16) {
                    throw new Asm.Unencodable("undefined count");
                }
            } else {
                g.setReg(1, 8, count);
            }
            g.a.modrm(size, NO_PREFIX, op(0x0F, opc + 1), o.reg(0), false, o.rm(), false, 0, 0);
        }
        int masked = count & (size == 64 ? 63 : 31);
        if (masked != 0) {
            g.flagMask &= ~Gen.AF;
            if (masked != 1) {
                g.flagMask &= ~Gen.OF;
            }
        }
        g.note((right ? "shrd" : "shld") + " count " + count);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"})
    void group2(String name) {
        int ext = GROUP2.indexOf(name);
        Diff.fuzz(name, g -> group2(g, ext));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"shld", "shrd"})
    void doubleShift(String name) {
        Diff.fuzz(name, g -> doubleShift(g, name.equals("shrd")));
    }
}
