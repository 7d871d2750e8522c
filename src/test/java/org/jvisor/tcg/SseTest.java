package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvisor.cpu.X86State;
import org.jvisor.testing.TranslatedToo;

@TranslatedToo
class SseTest {
    private static final long D = TestMachine.DATA;

    private static TestMachine run(String asm, long... data) {
        TestMachine m = new TestMachine(asm);
        for (int i = 0; i < data.length; i++) {
            m.ram.writeU64(D + 8L * i, data[i]);
        }
        m.run();
        return m;
    }

    private static long lo(TestMachine m, int xmm) {
        return m.st.xmm[2 * xmm];
    }

    private static long hi(TestMachine m, int xmm) {
        return m.st.xmm[2 * xmm + 1];
    }

    @Test
    void integerLanes() {
        try (TestMachine m = run("""
                mov $0x200000, %rdi
                movdqu (%rdi), %xmm0
                movdqa 16(%rdi), %xmm1
                movdqa %xmm0, %xmm2
                paddb %xmm1, %xmm2
                movdqa %xmm0, %xmm3
                paddw %xmm1, %xmm3
                movdqa %xmm0, %xmm4
                paddq %xmm1, %xmm4
                movdqa %xmm0, %xmm5
                psubd %xmm1, %xmm5
                movdqa %xmm0, %xmm6
                pcmpeqb %xmm1, %xmm6
                pmovmskb %xmm6, %eax
                pxor %xmm7, %xmm7
                por %xmm0, %xmm7
                pandn %xmm1, %xmm7
                pshufd $0x1b, %xmm0, %xmm8
                movdqa %xmm0, %xmm9
                punpcklbw %xmm1, %xmm9
                movdqa %xmm0, %xmm10
                psrldq $3, %xmm10
                movdqa %xmm0, %xmm11
                psllw $4, %xmm11
                movq %xmm0, %rbx
                movd %xmm1, %ecx
                mov $-1, %rdx
                movq %rdx, %xmm12
                movdqa %xmm0, %xmm13
                packuswb %xmm1, %xmm13
                """, 0x80ff_0102_0304_0506L, 0x1122_3344_5566_7788L, 0x80ff_0102_0304_0506L, 0x0102_0304_0506_0708L)) {
            long a0 = 0x80ff_0102_0304_0506L, a1 = 0x1122_3344_5566_7788L, b0 = a0, b1 = 0x0102_0304_0506_0708L;
            assertEquals(a0, lo(m, 0));
            assertEquals(a1, hi(m, 0));
            assertEquals(0x00fe_0204_0608_0a0cL, lo(m, 2));
            assertEquals(0x1224_3648_5a6c_7e90L, hi(m, 2));
            assertEquals(0x01fe_0204_0608_0a0cL, lo(m, 3));
            assertEquals(a0 + b0, lo(m, 4));
            assertEquals(a1 + b1, hi(m, 4));
            assertEquals(0, lo(m, 5));
            assertEquals(0x1020_3040_5060_7080L, hi(m, 5));
            assertEquals(0x00FF, m.reg(0), "PMOVMSKB: low 8 bytes equal");
            assertEquals(~a0 & b0, lo(m, 7));
            assertEquals(0x5566_7788_1122_3344L, lo(m, 8));
            assertEquals(0x0304_0506_80ff_0102L, hi(m, 8));
            assertEquals(0x0303_0404_0505_0606L, lo(m, 9)); // bytes 06,06,05,05,04,04,03,03 interleaved
            assertEquals(0x6677_8880_ff01_0203L, lo(m, 10));
            assertEquals(0x0011_2233_4455L, hi(m, 10));
            assertEquals(0x0ff0_1020_3040_5060L, lo(m, 11));
            assertEquals(a0, m.reg(3));
            assertEquals(0x0304_0506L, m.reg(1));
            assertEquals(-1, lo(m, 12));
            assertEquals(0, hi(m, 12));
            assertEquals(0xffff_ffff_00ff_ffffL, lo(m, 13), "PACKUSWB saturates");
            assertEquals(0xffff_ffff_00ff_ffffL, hi(m, 13));
        }
    }

    @Test
    void quadwordUnpacks() {
        try (TestMachine m = run("""
                mov $0x1111, %eax
                movq %rax, %xmm0
                punpcklqdq %xmm0, %xmm0
                mov $0x2222, %ecx
                movq %rcx, %xmm1
                pinsrw $7, %ecx, %xmm1
                movdqa %xmm0, %xmm2
                punpckhqdq %xmm1, %xmm2
                """)) {
            assertEquals(0x1111, lo(m, 0));
            assertEquals(0x1111, hi(m, 0), "PUNPCKLQDQ takes the low quadwords");
            assertEquals(0x1111, lo(m, 2));
            assertEquals(0x2222_0000_0000_0000L, hi(m, 2), "PUNPCKHQDQ takes the high quadwords");
        }
    }

    @Test
    void scalarDoubleAndConversions() {
        try (TestMachine m = run("""
                mov $0x200000, %rdi
                movsd (%rdi), %xmm0
                movsd 8(%rdi), %xmm1
                movapd %xmm0, %xmm2
                addsd %xmm1, %xmm2
                movapd %xmm0, %xmm3
                mulsd %xmm1, %xmm3
                movapd %xmm0, %xmm4
                divsd %xmm1, %xmm4
                sqrtsd %xmm1, %xmm5
                mov $-7, %rax
                cvtsi2sd %rax, %xmm6
                cvttsd2si %xmm4, %rbx
                cvtsd2ss %xmm0, %xmm7
                cvtss2sd %xmm7, %xmm8
                ucomisd %xmm1, %xmm0
                setb %cl
                sete %ch
                addss %xmm7, %xmm7
                cvttss2si %xmm7, %edx
                """, Double.doubleToRawLongBits(10.5), Double.doubleToRawLongBits(4.0))) {
            assertEquals(14.5, Double.longBitsToDouble(lo(m, 2)));
            assertEquals(42.0, Double.longBitsToDouble(lo(m, 3)));
            assertEquals(2.625, Double.longBitsToDouble(lo(m, 4)));
            assertEquals(2.0, Double.longBitsToDouble(lo(m, 5)));
            assertEquals(-7.0, Double.longBitsToDouble(lo(m, 6)));
            assertEquals(2, m.reg(3));
            assertEquals(10.5, Double.longBitsToDouble(lo(m, 8)));
            assertEquals(0, m.reg(1) & 0xFFFF, "10.5 > 4: CF=0, ZF=0");
            assertEquals(21, m.reg(2));
        }
    }

    @Test
    void packedSingle() {
        try (TestMachine m = run("""
                mov $0x200000, %rdi
                movups (%rdi), %xmm0
                movaps %xmm0, %xmm1
                addps %xmm0, %xmm1
                movaps %xmm0, %xmm2
                mulps %xmm0, %xmm2
                cvtps2dq %xmm2, %xmm3
                movaps %xmm0, %xmm4
                cmpltps %xmm1, %xmm4
                movmskps %xmm4, %eax
                xorps %xmm5, %xmm5
                shufps $0x00, %xmm0, %xmm5
                """, pack(1f, 2f), pack(-3f, 4f))) {
            assertEquals(pack(2f, 4f), lo(m, 1));
            assertEquals(pack(-6f, 8f), hi(m, 1));
            assertEquals(pack(1f, 4f), lo(m, 2));
            assertEquals(0x0000_0004_0000_0001L, lo(m, 3));
            assertEquals(0x0000_0010_0000_0009L, hi(m, 3));
            assertEquals(0b1011, m.reg(0), "x < 2x except for the negative lane");
            assertEquals(0, lo(m, 5));
            assertEquals(pack(1f, 1f), hi(m, 5));
        }
    }

    private static long pack(float lo, float hi) {
        return (Float.floatToRawIntBits(lo) & 0xFFFF_FFFFL) | ((long) Float.floatToRawIntBits(hi) << 32);
    }

    @Test
    void fxsaveFxrstorAndControlWords() {
        try (TestMachine m = run("""
                mov $0x200000, %rdi
                fninit
                fnstcw 0x400(%rdi)
                movl $0x1f80, 0x404(%rdi)
                orl $0x6000, 0x404(%rdi)
                ldmxcsr 0x404(%rdi)
                stmxcsr 0x408(%rdi)
                mov $0x1234, %eax
                movq %rax, %xmm3
                fxsave 0x1000(%rdi)
                pxor %xmm3, %xmm3
                fxrstor 0x1000(%rdi)
                movq %xmm3, %rbx
                fnstsw %ax
                """)) {
            assertEquals(0x37F, m.ram.readU16(D + 0x400));
            assertEquals(0x7F80, m.ram.readU32(D + 0x408));
            assertEquals(0x1234, m.reg(3));
            assertEquals(0x7F80, m.ram.readU32(D + 0x1000 + 24), "MXCSR in the FXSAVE image");
            assertEquals(0x1234, m.ram.readU64(D + 0x1000 + 160 + 3 * 16), "XMM3 in the FXSAVE image");
            assertEquals(0, m.reg(0) & 0xFFFF);
        }
    }

    @Test
    void x87BasicArithmetic() {
        try (TestMachine m = run("""
                mov $0x200000, %rdi
                fninit
                fldl (%rdi)
                fldl 8(%rdi)
                fmulp
                fistpl 0x100(%rdi)
                fldt 0x20(%rdi)
                fstpt 0x40(%rdi)
                fld1
                fldz
                fucomip %st(1), %st
                setb %cl
                fchs
                fxam
                fnstsw %ax
                fstpl 0x60(%rdi)
                fildq 0x10(%rdi)
                fldl (%rdi)
                fdivrp
                fstpl 0x68(%rdi)
                fnstsw 0x70(%rdi)
                fld1
                fldz
                stc
                fcmovb %st(1), %st
                fstpl 0x78(%rdi)
                fstp %st(0)
                """, Double.doubleToRawLongBits(2.5), Double.doubleToRawLongBits(-3.0), 7,
                0, 0x8765_4321_0fed_cba9L, 0x4003)) {
            assertEquals(-8, (int) m.ram.readU32(D + 0x100), "2.5 * -3 = -7.5 rounds to even -8");
            assertEquals(0x8765_4321_0fed_cba9L, m.ram.readU64(D + 0x40), "FLD/FSTP m80 are exact");
            assertEquals(0x4003, m.ram.readU16(D + 0x48));
            assertEquals(1, m.reg(1) & 1, "0 < 1 sets CF");
            assertEquals(0x0200 | 0x0400, m.reg(0) & 0x4700 & ~0x0100, "FXAM of -1: normal (C2), negative (C1)");
            assertEquals(-1.0, Double.longBitsToDouble(m.ram.readU64(D + 0x60)));
            assertEquals(7 / 2.5, Double.longBitsToDouble(m.ram.readU64(D + 0x68)), 1e-15);
            assertEquals(0, (m.ram.readU16(D + 0x70) >>> 11) & 7, "TOP back at 0");
            assertEquals(1.0, Double.longBitsToDouble(m.ram.readU64(D + 0x78)), "FCMOVB with CF=1 moves");
        }
    }

    @Test
    void sseFaultsWithTaskSwitched() {
        try (TestMachine m = new TestMachine("pxor %xmm0, %xmm0\n")) {
            m.installIdt(4);
            m.st.cr0 |= X86State.CR0_TS;
            m.run();
            assertEquals(CpuFault.NM, m.reg(15));
        }
    }

    /** Runs code that ends with MXCSR stored at DATA+0x40, after an IDT whose handlers skip 4 bytes. */
    private static TestMachine runWithIdt(String asm, boolean osxmmexcpt, long... data) {
        TestMachine m = new TestMachine(asm + "\nstmxcsr 0x40(%rdi)\n");
        for (int i = 0; i < data.length; i++) {
            m.ram.writeU64(D + 8L * i, data[i]);
        }
        m.installIdt(4); // divsd/addpd/sqrtsd reg, reg are 4 bytes
        if (!osxmmexcpt) {
            m.st.cr4 &= ~X86State.CR4_OSXMMEXCPT;
        }
        m.run();
        return m;
    }

    private static final String DIVIDE_BY_ZERO = """
            mov $0x200000, %rdi
            ldmxcsr (%rdi)
            movsd 8(%rdi), %xmm0
            xorpd %xmm1, %xmm1
            divsd %xmm1, %xmm0
            movq %xmm0, %rax
            """;

    @Test
    void unmaskedExceptionRaisesXmAndLeavesTheDestination() {
        long one = Double.doubleToRawLongBits(1.0);
        try (TestMachine m = runWithIdt(DIVIDE_BY_ZERO, true, 0x1F80 & ~0x200, one)) { // ZM clear
            assertEquals(CpuFault.XM, m.reg(15));
            assertEquals(1, m.reg(13), "one fault");
            assertEquals(one, m.reg(0), "destination unchanged");
            assertEquals((0x1F80 & ~0x200) | 0x4, m.ram.readU32(D + 0x40), "ZE set");
        }
        try (TestMachine m = runWithIdt(DIVIDE_BY_ZERO, false, 0x1F80 & ~0x200, one)) {
            assertEquals(CpuFault.UD, m.reg(15), "CR4.OSXMMEXCPT clear: #UD instead of #XM");
            assertEquals(one, m.reg(0));
        }
        try (TestMachine m = runWithIdt(DIVIDE_BY_ZERO, true, 0x1F80, one)) {
            assertEquals(0, m.reg(13), "masked: no fault");
            assertEquals(Double.doubleToRawLongBits(Double.POSITIVE_INFINITY), m.reg(0));
            assertEquals(0x1F84, m.ram.readU32(D + 0x40));
        }
    }

    @Test
    void unmaskedPreComputationExceptionReportsOnlyThoseFlags() {
        // lane 0: SNaN + 1 (invalid, unmasked); lane 1: 1 + 2^-60 (inexact, also unmasked)
        String asm = """
                mov $0x200000, %rdi
                ldmxcsr (%rdi)
                movupd 8(%rdi), %xmm0
                movupd 24(%rdi), %xmm1
                addpd %xmm1, %xmm0
                """;
        long snan = 0x7FF0_0000_0000_0001L, one = Double.doubleToRawLongBits(1.0);
        try (TestMachine m = runWithIdt(asm, true, 0x1F80 & ~0x1080, snan, one, one, Double.doubleToRawLongBits(0x1p-60))) {
            assertEquals(CpuFault.XM, m.reg(15));
            assertEquals((0x1F80 & ~0x1080) | 0x1, m.ram.readU32(D + 0x40), "IE only: no post-computation flags");
            assertEquals(snan, lo(m, 0), "destination unchanged");
        }
        try (TestMachine m = runWithIdt(asm, true, 0x1F80 & ~0x1000, snan, one, one, Double.doubleToRawLongBits(0x1p-60))) {
            assertEquals(CpuFault.XM, m.reg(15), "PE unmasked, IE masked");
            assertEquals((0x1F80 & ~0x1000) | 0x21, m.ram.readU32(D + 0x40), "IE and PE");
            assertEquals(snan, lo(m, 0), "destination unchanged");
        }
    }

    @Test
    void roundingControlDirectsArithmeticAndConversions() {
        String asm = """
                mov $0x200000, %rdi
                ldmxcsr (%rdi)
                movsd 8(%rdi), %xmm0
                divsd 16(%rdi), %xmm0
                movsd 8(%rdi), %xmm1
                sqrtsd 16(%rdi), %xmm1
                mov $-7, %rax
                cvtsi2ss %rax, %xmm2
                cvtsd2si 24(%rdi), %rbx
                """;
        long one = Double.doubleToRawLongBits(1.0), three = Double.doubleToRawLongBits(3.0);
        long third = Double.doubleToRawLongBits(1.0 / 3.0); // round to nearest is below 1/3
        long root3 = Double.doubleToRawLongBits(Math.sqrt(3.0)); // round to nearest is below sqrt(3) too
        long mPointFive = Double.doubleToRawLongBits(-2.5);
        try (TestMachine m = runWithIdt(asm, true, 0x1F80 | 0x4000, one, three, mPointFive)) { // up
            assertEquals(third + 1, lo(m, 0));
            assertEquals(root3 + 1, lo(m, 1));
            assertEquals(Float.floatToRawIntBits(-7f), (int) lo(m, 2));
            assertEquals(-2, m.reg(3));
            assertEquals(0x1F80 | 0x4000 | 0x20, m.ram.readU32(D + 0x40), "PE");
        }
        try (TestMachine m = runWithIdt(asm, true, 0x1F80 | 0x2000, one, three, mPointFive)) { // down
            assertEquals(third, lo(m, 0));
            assertEquals(root3, lo(m, 1));
            assertEquals(-3, m.reg(3));
        }
        try (TestMachine m = runWithIdt(asm, true, 0x1F80 | 0x6000, one, three, mPointFive)) { // toward zero
            assertEquals(third, lo(m, 0));
            assertEquals(root3, lo(m, 1));
            assertEquals(-2, m.reg(3));
        }
        try (TestMachine m = runWithIdt(asm, true, 0x1F80, one, three, mPointFive)) { // nearest even
            assertEquals(third, lo(m, 0));
            assertEquals(root3, lo(m, 1));
            assertEquals(-2, m.reg(3));
        }
    }

    private static final String X87_DIVIDE_BY_ZERO = """
            mov $0x200000, %rdi
            fninit
            fldcw (%rdi)
            fldz
            fld1
            fdiv %st(1), %st
            fnstsw %ax
            mov %eax, %ebx
            fwait
            fnstsw %ax
            fnclex
            fwait
            fstpl 8(%rdi)
            fstp %st(0)
            """;

    @Test
    void x87UnmaskedExceptionRaisesMfAtTheNextWaitingInstruction() {
        try (TestMachine m = new TestMachine(X87_DIVIDE_BY_ZERO)) {
            m.ram.writeU64(D, 0x37F & ~0x4); // ZM clear
            m.installIdt(1); // the faulting FWAIT is one byte
            m.st.cr0 |= X86State.CR0_NE;
            m.run();
            assertEquals(CpuFault.MF, m.reg(15));
            assertEquals(1, m.reg(13), "one #MF, from the first FWAIT (FNSTSW and FNCLEX do not wait)");
            assertEquals(0x84, m.reg(3) & 0x80FF & ~0x8000, "ZE and ES after the division");
            assertEquals(0x8000, m.reg(3) & 0x8000, "B");
            assertEquals(0x84, m.reg(0) & 0xFF, "still pending at the handler's return");
            assertEquals(Double.doubleToRawLongBits(1.0), m.ram.readU64(D + 8), "unmasked: destination unchanged");
        }
        try (TestMachine m = new TestMachine(X87_DIVIDE_BY_ZERO)) {
            m.ram.writeU64(D, 0x37F);
            m.installIdt(1);
            m.st.cr0 |= X86State.CR0_NE;
            m.run();
            assertEquals(0, m.reg(13), "masked: no #MF");
            assertEquals(0x04, m.reg(3) & 0xFF, "ZE only");
            assertEquals(Double.doubleToRawLongBits(Double.POSITIVE_INFINITY), m.ram.readU64(D + 8));
        }
    }

    @Test
    void x87TranscendentalsAndRemainders() {
        try (TestMachine m = run("""
                mov $0x200000, %rdi
                fninit
                fldpi
                fld1
                fld1
                faddp
                fdivrp
                fsin
                fstpl 0x10(%rdi)
                fld1
                fldl 0x08(%rdi)
                fprem
                fnstsw %ax
                fstpl 0x18(%rdi)
                fstp %st(0)
                fld1
                fldl 0x08(%rdi)
                fyl2x
                fstpl 0x20(%rdi)
                fldl 0x08(%rdi)
                fxtract
                fstpl 0x28(%rdi)
                fstpl 0x30(%rdi)
                """, 0, Double.doubleToRawLongBits(7.0))) {
            assertEquals(1.0, Double.longBitsToDouble(m.ram.readU64(D + 0x10)), 1e-15, "sin(pi/2)");
            assertEquals(0.0, Double.longBitsToDouble(m.ram.readU64(D + 0x18)), "7 rem 1");
            assertEquals(0x4300, m.reg(0) & 0x4700, "quotient 7: C0, C3, C1 = its bits 2, 1, 0; C2 = 0 (complete)");
            assertEquals(Math.log(7) / Math.log(2), Double.longBitsToDouble(m.ram.readU64(D + 0x20)), 1e-15);
            assertEquals(1.75, Double.longBitsToDouble(m.ram.readU64(D + 0x28)), "significand of 7");
            assertEquals(2.0, Double.longBitsToDouble(m.ram.readU64(D + 0x30)), "exponent of 7");
        }
    }

    @Test
    void ssse3MmxForms() {
        try (TestMachine m = run("""
                mov $0x200000, %rdi
                movq (%rdi), %mm0
                movq 8(%rdi), %mm1
                pshufb %mm1, %mm0
                movq %mm0, %rax
                movq (%rdi), %mm2
                palignr $3, 8(%rdi), %mm2
                movq %mm2, %rbx
                pabsb 16(%rdi), %mm3
                movq %mm3, %rcx
                emms
                """, 0x0706_0504_0302_0100L, 0x8000_0102_0304_0506L, 0x80FF_7F01_0000_FE02L)) {
            assertEquals(0x0000_0102_0304_0506L, m.reg(0), "PSHUFB: a set top bit selects zero");
            assertEquals(0x0201_0080_0001_0203L, m.reg(3), "PALIGNR: (mm2:m64) >> 3 bytes");
            assertEquals(0x8001_7F01_0000_0202L, m.reg(1), "PABSB: |-128| stays 0x80");
        }
    }

    @Test
    void mmxStateTransitions() {
        try (TestMachine m = run("""
                mov $0x200000, %rdi
                fninit
                movq (%rdi), %mm1
                movq2dq %mm1, %xmm2
                movq %xmm2, %rcx
                pcmpeqd %xmm3, %xmm3
                movdq2q %xmm3, %mm4
                movntq %mm4, 8(%rdi)
                emms
                fld1
                fld1
                faddp
                fstpl 16(%rdi)
                fnstsw %ax
                mov %eax, %ebx
                """, 0x1122_3344_5566_7788L)) {
            assertEquals(0x1122_3344_5566_7788L, m.reg(1), "MOVQ2DQ");
            assertEquals(-1L, m.ram.readU64(D + 8), "MOVDQ2Q then MOVNTQ");
            assertEquals(2.0, Double.longBitsToDouble(m.ram.readU64(D + 16)), "x87 usable after EMMS");
            assertEquals(0, m.reg(3) & 0x7F, "no stack fault after EMMS");
        }
    }

    @Test
    void x87ComputesInDoubleExtendedPrecision() {
        try (TestMachine m = run("""
                mov $0x200000, %rdi
                fninit
                fld1
                fldl 8(%rdi)
                fadd %st(1), %st
                fsubp
                fstpl 0x20(%rdi)
                fildq 0x10(%rdi)
                fistpq 0x28(%rdi)
                fldpi
                fstpt 0x30(%rdi)
                fldcw 0x18(%rdi)
                fld1
                fldl 8(%rdi)
                fadd %st(1), %st
                fsubp
                fstpl 0x40(%rdi)
                """, 0, Double.doubleToRawLongBits(0x1p-60), Long.MAX_VALUE, 0x27F)) {
            assertEquals(0x1p-60, Double.longBitsToDouble(m.ram.readU64(D + 0x20)), "(1 + 2^-60) - 1 with 64-bit precision");
            assertEquals(Long.MAX_VALUE, m.ram.readU64(D + 0x28), "FILD/FISTP of 2^63 - 1 are exact");
            assertEquals(0xC90F_DAA2_2168_C235L, m.ram.readU64(D + 0x30), "FLDPI rounded to nearest");
            assertEquals(0x4000, m.ram.readU16(D + 0x38));
            assertEquals(0.0, Double.longBitsToDouble(m.ram.readU64(D + 0x40)), "the same with PC = double");
        }
    }
}
