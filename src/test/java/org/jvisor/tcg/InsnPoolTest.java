package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;

/** Decoded instructions shared by value: equal ones are one object, different ones never. */
class InsnPoolTest {
    private static Insn decode(String asm, int mode) {
        byte[] code = Asm.assemble(asm);
        Decoder d = new Decoder();
        System.arraycopy(code, 0, d.buffer(), 0, code.length);
        d.setAvailable(code.length, null);
        Insn in = new Insn();
        d.decode(in, mode);
        return in;
    }

    @Test
    void equalInstructionsAreOneObject() {
        InsnPool pool = new InsnPool();
        Insn a = pool.intern(decode("add $7, %eax", 64));
        assertSame(a, pool.intern(decode("add $7, %eax", 64)));
        assertNotSame(a, pool.intern(decode("add $9, %eax", 64)), "another immediate is another instruction");
        assertNotSame(a, pool.intern(decode("add $7, %ecx", 64)), "another register too");
        Insn longer = pool.intern(decode("movabs $0x1122334455667788, %rax", 64));
        assertNotSame(longer, pool.intern(decode("movabs $0x9922334455667788, %rax", 64)),
            "an immediate past the eighth byte tells instructions apart as well");
    }

    @Test
    void theModeIsPartOfTheInstruction() {
        InsnPool pool = new InsnPool();
        Insn in64 = pool.intern(decode("nop", 64));
        Insn in32 = pool.intern(decode("nop", 32));
        assertNotSame(in64, in32);
        assertEquals(32, pool.intern(decode("nop", 32)).mode);
    }

    /** Every field counts, a field added to Insn later included: instructions differing in one are not one. */
    @Test
    void instructionsDifferingInAnyOneFieldAreNotTheSame() throws ReflectiveOperationException {
        int checked = 0;
        for (Field f : Insn.class.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers())) {
                continue;
            }
            Insn a = decode("add $7, %eax", 64);
            Insn b = decode("add $7, %eax", 64);
            assertTrue(InsnPool.same(a, b));
            Class<?> t = f.getType();
            if (t == boolean.class) {
                f.setBoolean(b, !f.getBoolean(b));
            } else if (t == byte.class) {
                f.setByte(b, (byte) (f.getByte(b) + 1));
            } else if (t == short.class) {
                f.setShort(b, (short) (f.getShort(b) + 1));
            } else if (t == int.class) {
                f.setInt(b, f.getInt(b) + 1);
            } else if (t == long.class) {
                f.setLong(b, f.getLong(b) + 1);
            } else {
                throw new AssertionError("Insn." + f.getName() + ": a " + t + " field InsnPool cannot compare");
            }
            assertFalse(InsnPool.same(a, b), "Insn." + f.getName() + " is not compared");
            checked++;
        }
        assertTrue(checked >= 24, checked + " fields");
    }

    /** Two machines (and a translation unit) running the same code hold the same decoded objects. */
    @Test
    void machinesSharingALibraryShareDecodedCode() {
        UnitLibrary lib = new UnitLibrary(true);
        byte[] code = Asm.assemble("""
            mov $100, %ecx
            1: add $3, %eax
            dec %ecx
            jnz 1b
            """);
        JitOptions off = JitOptions.OFF;
        try (TestMachine a = new TestMachine(code, off, lib); TestMachine b = new TestMachine(code, off, lib);
             TestMachine alone = new TestMachine(code, off)) {
            a.run();
            b.run();
            alone.run();
            Insn ia = a.cpu.code.index(a.cpu.code.page(TestMachine.CODE)).get(0);
            Insn ib = b.cpu.code.index(b.cpu.code.page(TestMachine.CODE)).get(0);
            assertEquals(0xB9, ia.op & 0xFF, "the first instruction: mov $100, %ecx");
            assertSame(ia, ib);
            assertNotSame(ia, alone.cpu.code.index(alone.cpu.code.page(TestMachine.CODE)).get(0), "a machine with its own library");
            assertEquals(300, b.reg(0));
        }
    }
}
