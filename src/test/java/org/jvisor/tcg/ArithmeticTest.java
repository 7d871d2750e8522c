package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvisor.cpu.X86State;
import org.jvisor.testing.TranslatedToo;

@TranslatedToo
class ArithmeticTest {
    private static final long ARITH = X86State.CF | X86State.PF | X86State.AF | X86State.ZF | X86State.SF | X86State.OF;

    private static long flagsAfter(String asm) {
        try (TestMachine m = new TestMachine(asm + "\npushfq\npop %rbx\n")) {
            m.run();
            return m.reg(3) & ARITH;
        }
    }

    private static long f(long... bits) {
        long r = 0;
        for (long b : bits) {
            r |= b;
        }
        return r;
    }

    @Test
    void addFlags() {
        assertEquals(f(X86State.ZF, X86State.CF, X86State.PF, X86State.AF), flagsAfter("mov $0xff, %al\nadd $1, %al"));
        assertEquals(f(X86State.OF, X86State.SF, X86State.AF), flagsAfter("mov $0x7f, %al\nadd $1, %al"));
        assertEquals(f(X86State.OF, X86State.CF, X86State.ZF, X86State.PF), flagsAfter("mov $0x80000000, %eax\nadd %eax, %eax"));
        assertEquals(f(X86State.CF, X86State.ZF, X86State.PF, X86State.AF), flagsAfter("mov $-1, %rax\nmov $1, %rcx\nadd %rcx, %rax"));
    }

    @Test
    void subAndCmpFlags() {
        assertEquals(f(X86State.CF, X86State.SF, X86State.PF, X86State.AF), flagsAfter("mov $0, %eax\ncmp $1, %eax"));
        assertEquals(f(X86State.OF), flagsAfter("mov $0x80, %al\nsub $1, %al\nand $0x7f, %al\nmov $0x80, %al\nsub $1, %al")
            & X86State.OF);
        assertEquals(f(X86State.ZF, X86State.PF), flagsAfter("mov $5, %rax\ncmp $5, %rax"));
        assertEquals(f(X86State.SF, X86State.PF),
            flagsAfter("mov $0x7fffffffffffffff, %rax\nmov $-1, %rcx\ncmp %rax, %rcx") | X86State.PF);
        assertEquals(f(X86State.OF, X86State.CF),
            flagsAfter("mov $0x7fffffffffffffff, %rax\nmov $-1, %rcx\ncmp %rcx, %rax") & (X86State.OF | X86State.CF));
    }

    @Test
    void incDecKeepCarry() {
        assertEquals(f(X86State.CF, X86State.ZF, X86State.PF, X86State.AF), flagsAfter("stc\nmov $-1, %rax\ninc %rax"));
        assertEquals(f(X86State.OF, X86State.AF, X86State.PF), flagsAfter("clc\nmov $0x80000000, %eax\ndec %eax"));
    }

    @Test
    void adcSbbChain() {
        try (TestMachine m = new TestMachine("""
                mov $-1, %rax
                mov $0, %rdx
                add $1, %rax
                adc $0, %rdx
                mov $0, %rsi
                mov $1, %rdi
                sub $1, %rsi
                sbb $0, %rdi
                """)) {
            m.run();
            assertEquals(0, m.reg(0));
            assertEquals(1, m.reg(2));
            assertEquals(-1, m.reg(6));
            assertEquals(0, m.reg(7));
        }
    }

    @Test
    void logicClearsCarryAndOverflow() {
        assertEquals(f(X86State.ZF, X86State.PF), flagsAfter("stc\nmov $0xf0, %eax\nand $0x0f, %eax"));
        assertEquals(f(X86State.SF, X86State.PF), flagsAfter("mov $0, %eax\nor $-1, %rax"));
        assertEquals(f(X86State.CF, X86State.SF, X86State.PF, X86State.AF), flagsAfter("mov $1, %eax\nneg %rax"));
    }

    @Test
    void shiftFlags() {
        // shl by 1: CF = old MSB, OF = MSB(result) xor CF
        assertEquals(f(X86State.CF, X86State.OF, X86State.ZF, X86State.PF), flagsAfter("mov $0x80, %al\nshl $1, %al"));
        assertEquals(f(X86State.OF, X86State.SF), flagsAfter("mov $0x40, %al\nshl $1, %al") & ~X86State.AF);
        // count 0 leaves flags alone
        assertEquals(f(X86State.CF, X86State.ZF, X86State.PF, X86State.AF), flagsAfter("mov $-1, %rax\nmov $1, %rcx\nadd %rcx, %rax\nmov $0, %cl\nshl %cl, %rdx"));
        // shr: CF = last bit out, OF = old MSB
        assertEquals(f(X86State.CF, X86State.OF), flagsAfter("mov $0x81, %al\nshr $1, %al") & ~X86State.AF);
        // sar keeps the sign
        try (TestMachine m = new TestMachine("mov $-16, %rax\nsar $2, %rax\nmov $0x80000001, %ebx\nsar $4, %ebx")) {
            m.run();
            assertEquals(-4, m.reg(0));
            assertEquals(0xF8000000L, m.reg(3));
        }
    }

    @Test
    void rotates() {
        try (TestMachine m = new TestMachine("""
                mov $0x8000000000000001, %rax
                rol $1, %rax
                mov %rax, %rbx
                mov $1, %ecx
                ror $1, %cx
                stc
                mov $0, %edx
                rcl $1, %dl
                stc
                mov $0, %esi
                rcr $1, %esi
                """)) {
            m.run();
            assertEquals(3, m.reg(3));
            assertEquals(0x8000, m.reg(1));
            assertEquals(1, m.reg(2));
            assertEquals(0x80000000L, m.reg(6));
        }
    }

    @Test
    void shldShrd() {
        try (TestMachine m = new TestMachine("""
                mov $0x1234567800000000, %rax
                mov $0xabcdef0000000000, %rbx
                shld $8, %rbx, %rax
                mov $0x12345678, %ecx
                mov $0x9abcdef0, %edx
                shrd $4, %edx, %ecx
                """)) {
            m.run();
            assertEquals(0x34567800000000abL, m.reg(0));
            assertEquals(0x01234567L, m.reg(1));
        }
    }

    @Test
    void multiplyAndDivide() {
        try (TestMachine m = new TestMachine("""
                mov $-1, %rax
                mov $-1, %rcx
                mul %rcx
                mov %rax, %r8
                mov %rdx, %r9
                mov $-3, %rax
                mov $7, %rcx
                imul %rcx
                mov %rax, %r10
                mov %rdx, %r11
                mov $100, %rax
                mov $1, %rdx
                mov $7, %rcx
                div %rcx
                mov %rax, %r12
                mov %rdx, %r13
                mov $-100, %eax
                cdq
                mov $7, %ecx
                idiv %ecx
                mov %rax, %rsi
                mov %rdx, %rdi
                imul $-5, %rcx, %rbx
                """)) {
            m.run();
            assertEquals(1, m.reg(8));
            assertEquals(-2, m.reg(9));
            assertEquals(-21, m.reg(10));
            assertEquals(-1, m.reg(11));
            java.math.BigInteger dividend = java.math.BigInteger.ONE.shiftLeft(64).add(java.math.BigInteger.valueOf(100));
            java.math.BigInteger[] qr = dividend.divideAndRemainder(java.math.BigInteger.valueOf(7));
            assertEquals(qr[0].longValue(), m.reg(12));
            assertEquals(qr[1].longValue(), m.reg(13));
            assertEquals(0xFFFFFFF2L, m.reg(6)); // -14
            assertEquals(0xFFFFFFFEL, m.reg(7)); // -2
            assertEquals(-35, m.reg(3));
        }
    }

    @Test
    void divideErrorGoesThroughIdt() {
        try (TestMachine m = new TestMachine("""
                xor %ecx, %ecx
                mov $1, %eax
                div %ecx
                mov $0x42, %ebx
                """)) {
            m.installIdt(2); // div %ecx is two bytes
            m.run();
            assertEquals(0, m.reg(15));
            assertEquals(-1, m.reg(14));
            assertEquals(0x42, m.reg(3));
        }
    }

    @Test
    void conditionalMovesAndSets() {
        try (TestMachine m = new TestMachine("""
                mov $-1, %rax
                mov $5, %ecx
                mov $7, %edx
                cmp %edx, %ecx
                cmovl %edx, %eax
                setg %bl
                setl %bh
                mov $-1, %rsi
                cmp %edx, %ecx
                cmovg %ecx, %esi
                """)) {
            m.run();
            assertEquals(7, m.reg(0));
            assertEquals(0x100, m.reg(3) & 0xFFFF);
            assertEquals(0xFFFFFFFFL, m.reg(6)); // 32-bit cmov zero-extends even when not taken
        }
    }

    @Test
    void bitInstructions() {
        try (TestMachine m = new TestMachine("""
                mov $0x200000, %rdi
                movq $0, (%rdi)
                movq $0, 8(%rdi)
                mov $67, %rax
                bts %rax, (%rdi)
                mov 8(%rdi), %rbx
                mov $0x10, %ecx
                bsf %ecx, %edx
                bsr %ecx, %esi
                mov $0xf0f0, %r8d
                popcnt %r8d, %r9d
                mov $1, %r10d
                lzcnt %r10d, %r11d
                mov $0x1122334455667788, %r12
                bswap %r12
                btc $3, %r13
                """)) {
            m.run();
            assertEquals(8, m.reg(3));
            assertEquals(4, m.reg(2));
            assertEquals(4, m.reg(6));
            assertEquals(8, m.reg(9));
            assertEquals(31, m.reg(11));
            assertEquals(0x8877665544332211L, m.reg(12));
            assertEquals(8, m.reg(13));
        }
    }
}
