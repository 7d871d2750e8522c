package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.NO_PREFIX;
import static org.jvisor.tcg.diff.Asm.op;

import org.junit.jupiter.api.Test;

/**
 * Stack instructions on a scratch stack inside the data area: the snippet starts and ends with
 * {@code xchg rsp, r15} (R15 = scratch stack pointer, the same address on both sides), so the host
 * stack is never touched and the final R15 and the stack memory are compared. PUSH/POP (registers,
 * 16-bit, immediates, memory), PUSHFQ/POPFQ, CALL rel32 / indirect, RET / RET imm16, ENTER/LEAVE.
 *
 * <p>While the snippet runs natively RSP points into the data area; a signal delivered to the
 * thread in that window would write its frame there (none is expected in native code here).
 */
class DiffTestStack {
    /** Flags a POPFQ may load: the arithmetic ones and DF (not TF, IF, AC...). */
    static final long POPF_SAFE = 0x8D5L | 0x400L | 2L;
    static final long IF = 0x200;

    static void xchgRspR15(Gen g) {
        g.a.raw(0x49, 0x87, 0xE7);
    }

    static void pushReg(Gen g, int reg, boolean word) {
        g.a.plain(word ? 16 : 0, NO_PREFIX, reg >> 3, op(0x50 + (reg & 7)), 0, 0);
    }

    static void stack(Gen g) {
        long sp = g.dataBase + 0x1000 + 8L * g.r.nextInt(64) + (g.chance(8) ? g.r.nextInt(8) : 0);
        g.regs[15] = sp;
        g.pointerRegs |= 1 << 15;
        boolean enter = g.chance(3);
        if (enter) {
            g.regs[5] = sp - 8L * g.r.nextInt(16); // ENTER with a nesting level reads the frames at RBP
            g.avoidRegs |= 1 << 5; // so nothing else writes RBP
        }
        Asm.Mem mem = g.chance(2) ? g.mem(8, 0x40) : null;
        xchgRspR15(g);
        int n = 1 + g.r.nextInt(5);
        for (int k = 0; k < n; k++) {
            switch (g.r.nextInt(10)) {
                case 0 -> pushReg(g, g.gpr(), g.chance(4));
                case 1 -> { // pop reg
                    int reg = g.gpr();
                    g.a.plain(g.chance(4) ? 16 : 0, NO_PREFIX, reg >> 3, op(0x58 + (reg & 7)), 0, 0);
                }
                case 2 -> { // push imm8 / imm32 / imm16
                    switch (g.r.nextInt(3)) {
                        case 0 -> g.a.raw(0x6A, g.r.nextInt(256));
                        case 1 -> {
                            g.a.b(0x68);
                            g.a.imm(g.interesting(32), 4);
                        }
                        default -> {
                            g.a.raw(0x66, 0x68);
                            g.a.imm(g.interesting(16), 2);
                        }
                    }
                }
                case 3 -> { // push m / pop m (64 or 16 bits)
                    if (mem == null) {
                        pushReg(g, g.gpr(), false);
                        break;
                    }
                    boolean push = g.r.nextBoolean();
                    g.a.modrm(g.chance(4) ? 16 : 0, NO_PREFIX, op(push ? 0xFF : 0x8F), push ? 6 : 0, true, mem, false, 0,
                        0);
                }
                case 4 -> { // pushfq ; pop reg   |   push imm32 (safe flags) ; popfq
                    if (g.r.nextBoolean()) {
                        g.a.b(0x9C);
                        int reg = g.gpr();
                        g.a.plain(0, NO_PREFIX, reg >> 3, op(0x58 + (reg & 7)), 0, 0);
                    } else {
                        g.a.b(0x68);
                        g.a.imm((g.r.nextLong() & POPF_SAFE) | IF, 4); // IF kept: CPL 3 cannot clear it
                        g.a.b(0x9D);
                    }
                }
                case 5 -> { // call +0 ; pop reg : the return address
                    g.a.raw(0xE8, 0, 0, 0, 0);
                    int reg = g.gpr();
                    g.a.plain(0, NO_PREFIX, reg >> 3, op(0x58 + (reg & 7)), 0, 0);
                }
                case 6 -> { // call L1 ; jmp L2 ; L1: ret [imm16] ; L2:
                    boolean imm = g.r.nextBoolean();
                    g.a.raw(0xE8, 2, 0, 0, 0);
                    g.a.raw(0xEB, imm ? 3 : 1);
                    if (imm) {
                        g.a.b(0xC2);
                        g.a.imm(8 * g.r.nextInt(4) + (g.chance(4) ? 2 : 0), 2);
                    } else {
                        g.a.b(0xC3);
                    }
                }
                case 7 -> { // lea reg,[rip+L1] ; call reg ; jmp L2 ; L1: ret ; L2:
                    int reg = g.gpr();
                    int callLen = reg >= 8 ? 3 : 2;
                    long target = g.a.pc() + 7 + callLen + 2;
                    g.a.modrm(64, NO_PREFIX, op(0x8D), reg, false, new Asm.Mem(Asm.RIP, Asm.NONE, 1, target, 4, false),
                        false, 0, 0);
                    g.a.modrm(0, NO_PREFIX, op(0xFF), 2, true, new Asm.Reg(reg), false, 0, 0);
                    g.a.raw(0xEB, 1, 0xC3);
                    if (g.a.pc() != target + 1) {
                        throw new AssertionError("call target miscomputed");
                    }
                }
                case 8 -> { // enter size, level ; [push] ; leave  (RBP points at the scratch stack)
                    if (!enter) {
                        pushReg(g, g.gpr(), false);
                        break;
                    }
                    int level = g.chance(2) ? 0 : g.r.nextInt(4);
                    g.a.b(0xC8);
                    g.a.imm(8 * g.r.nextInt(32) + (g.chance(4) ? g.r.nextInt(8) : 0), 2);
                    g.a.b(level);
                    if (g.r.nextBoolean()) {
                        pushReg(g, g.gpr(), false);
                    }
                    g.a.b(0xC9);
                }
                default -> { // jmp short / near forward over a mov
                    int reg = g.gpr();
                    if (g.r.nextBoolean()) {
                        g.a.raw(0xEB, 7);
                    } else {
                        g.a.raw(0xE9, 7, 0, 0, 0);
                    }
                    g.a.modrm(64, NO_PREFIX, op(0xC7), 0, true, new Asm.Reg(reg), false, g.r.nextInt(), 4);
                }
            }
        }
        xchgRspR15(g);
    }

    @Test
    void stack() {
        Diff.fuzz("stack", DiffTestStack::stack);
    }
}
