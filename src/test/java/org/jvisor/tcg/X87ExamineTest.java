package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.jvisor.testing.TranslatedToo;

/**
 * FXAM on every class of 80-bit encoding (SDM vol. 2, FXAM; vol. 1, 8.2.2 table 8-3): the
 * encodings the 387 and later no longer support (pseudo-NaNs, pseudo-infinities, unnormals: a
 * nonzero exponent without the integer bit) are reported as unsupported, C3 = C2 = C0 = 0, and
 * pseudo-denormals (exponent 0 with the integer bit) as denormals. C1 is the sign.
 */
@TranslatedToo
class X87ExamineTest {
    private static final long DATA = TestMachine.DATA;
    private static final int C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "pseudo-infinity,      0x0000000000000000, 0x7FFF, 0",
        "negative pseudo-infinity, 0x0000000000000000, 0xFFFF, 0",
        "pseudo-NaN,           0x4000000000000000, 0x7FFF, 0",
        "pseudo-NaN low bit,   0x0000000000000001, 0xFFFF, 0",
        "unnormal,             0x7FFFFFFFFFFFFFFF, 0x3FFF, 0",
        "pseudo-zero,          0x0000000000000000, 0x0001, 0",
        "pseudo-denormal,      0x8000000000000000, 0x0000, 0x4400",
        "negative pseudo-denormal, 0x8000000000000001, 0x8000, 0x4400",
        "denormal,             0x0000000000000001, 0x0000, 0x4400",
        "zero,                 0x0000000000000000, 0x0000, 0x4000",
        "normal,               0x8000000000000000, 0x3FFF, 0x0400",
        "infinity,             0x8000000000000000, 0x7FFF, 0x0500",
        "quiet NaN,            0xC000000000000000, 0x7FFF, 0x0100",
        "signalling NaN,       0x8000000000000001, 0xFFFF, 0x0100",
    })
    void classifiesEveryEncoding(String name, String mantissa, String signExponent, String expected) {
        long mant = Long.parseUnsignedLong(mantissa.substring(2), 16);
        int se = Integer.decode(signExponent);
        try (TestMachine m = new TestMachine("""
                mov $0x200000, %rdi
                fninit
                fldt (%rdi)
                fxam
                fnstsw %ax
                fstpt 0x10(%rdi)
                """)) {
            m.ram.writeU64(DATA, mant);
            m.ram.writeU16(DATA + 8, (short) se);
            m.run();
            int sign = (se & 0x8000) != 0 ? C1 : 0;
            assertEquals(Integer.decode(expected) | sign, m.reg(0) & (C0 | C1 | C2 | C3), name);
            assertEquals(mant, m.ram.readU64(DATA + 0x10), "FSTP m80 stores the encoding unchanged");
            assertEquals(se, m.ram.readU16(DATA + 0x18) & 0xFFFF, "FSTP m80 stores the encoding unchanged");
        }
    }

    @Test
    void anEmptiedRegisterIsReportedEmpty() {
        try (TestMachine m = new TestMachine("fninit\nfld1\nfstp %st(0)\nfxam\nfnstsw %ax\n")) {
            m.run();
            assertEquals(C3 | C0, m.reg(0) & (C0 | C2 | C3));
        }
    }
}
