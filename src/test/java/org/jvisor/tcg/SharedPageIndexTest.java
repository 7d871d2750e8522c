package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;

/**
 * Machines that share a library share the decoded-instruction index of code pages whose bytes
 * are equal, and never across a content change: a page written in one machine, by the guest or
 * behind the decoder's back, leaves the other machines on their own bytes.
 */
class SharedPageIndexTest {
    /**
     * With DATA's byte 0 clear: EAX = 0x11; set: EBX = 0x22 (on its own path, so one machine can
     * run the code without decoding it), then once more through a store to the code: EAX = 0x11.
     */
    private static final byte[] CODE = Asm.assemble("""
        cmpb $0, 0x200000
        jne 1f
        mov $0x11, %eax
        jmp 2f
        1: mov $0x22, %ebx
        2: nop
        """);

    private static CodeCache.Index index(TestMachine m) {
        return m.cpu.code.index(m.cpu.code.page(TestMachine.CODE));
    }

    /** Host offset of the immediate of {@code mov $0x22, %ebx} (BB 22 00 00 00). */
    private static long movEbxImmediate() {
        for (int i = 0; i < CODE.length - 4; i++) {
            if ((CODE[i] & 0xFF) == 0xBB && CODE[i + 1] == 0x22) {
                return TestMachine.CODE + i + 1;
            }
        }
        throw new AssertionError("mov $0x22, %ebx not found");
    }

    private static void setFlag(TestMachine m, int v) {
        m.ram.segment().set(ValueLayout.JAVA_BYTE, TestMachine.DATA, (byte) v);
    }

    private static void rerun(TestMachine m) {
        m.st.rip = TestMachine.CODE;
        m.run();
    }

    @Test
    void equalPagesShareOneIndexAndALoneMachineKeepsItsOwn() {
        UnitLibrary lib = new UnitLibrary(true);
        try (TestMachine a = new TestMachine(CODE, JitOptions.OFF, lib);
             TestMachine b = new TestMachine(CODE, JitOptions.OFF, lib);
             TestMachine alone = new TestMachine(CODE, JitOptions.OFF)) {
            a.run();
            b.run();
            alone.run();
            assertSame(index(a), index(b));
            assertEquals(0x11, b.reg(0));
            assertNotSame(index(a), index(alone));
            assertNull(index(alone).bytes, "a machine alone copies no page");
        }
    }

    @Test
    void aPageWithOtherBytesGetsItsOwnIndex() {
        UnitLibrary lib = new UnitLibrary(true);
        byte[] other = CODE.clone();
        other[(int) (movEbxImmediate() - TestMachine.CODE)] = 0x33;
        try (TestMachine a = new TestMachine(CODE, JitOptions.OFF, lib);
             TestMachine b = new TestMachine(other, JitOptions.OFF, lib)) {
            setFlag(a, 1);
            setFlag(b, 1);
            a.run();
            b.run();
            assertEquals(0x22, a.reg(3));
            assertEquals(0x33, b.reg(3));
            assertNotSame(index(a), index(b));
        }
    }

    /** A guest store to its code: the writing machine runs its new bytes, the other its old ones. */
    @Test
    void aStoreToCodeInOneMachineLeavesTheOthersOnTheirBytes() {
        UnitLibrary lib = new UnitLibrary(true);
        byte[] store = Asm.assemble("movb $0x44, " + movEbxImmediate() + "\n");
        try (TestMachine a = new TestMachine(CODE, JitOptions.OFF, lib);
             TestMachine b = new TestMachine(CODE, JitOptions.OFF, lib);
             TestMachine writer = new TestMachine(store, JitOptions.OFF)) {
            setFlag(a, 1);
            setFlag(b, 1);
            a.run();
            b.run();
            CodeCache.Index before = index(a);
            assertSame(before, index(b));
            // machine a's guest rewrites the immediate through its vCPU's store path (from another page)
            a.st.rip = TestMachine.CODE + 0x8000;
            a.ram.segment().asSlice(a.st.rip).copyFrom(java.lang.foreign.MemorySegment.ofArray(store));
            a.cpu.runUntilRip(a.st.rip + store.length, 100);
            rerun(a);
            rerun(b);
            assertEquals(0x44, a.reg(3), "the writer runs its new instruction");
            assertEquals(0x22, b.reg(3), "the other machine still runs its own bytes");
            assertNotSame(before, index(a));
            assertSame(before, index(b));
        }
    }

    /**
     * The window the decode check closes: machine a's page changed, the write's report not yet
     * there (a store in flight on another vCPU, or a DMA before its invalidation). Machine a then
     * decodes an instruction it never ran, from its new bytes: it runs it, but the shared index
     * must not take it, or machine b, whose page still holds the old bytes, would run it.
     */
    @Test
    void anInstructionDecodedFromChangedBytesStaysOutOfTheSharedIndex() {
        UnitLibrary lib = new UnitLibrary(true);
        try (TestMachine a = new TestMachine(CODE, JitOptions.OFF, lib);
             TestMachine b = new TestMachine(CODE, JitOptions.OFF, lib)) {
            a.run(); // the flag clear: the mov to EBX is not decoded
            a.ram.segment().set(ValueLayout.JAVA_BYTE, movEbxImmediate(), (byte) 0x55); // not reported
            setFlag(a, 1);
            rerun(a);
            assertEquals(0x55, a.reg(3), "machine a runs what its memory holds");
            setFlag(b, 1);
            b.run();
            assertEquals(0x22, b.reg(3), "machine b runs its own bytes, not a's decode");
        }
    }

    /** DMA into a code page (invalidateCode) drops the machine's link to the shared index as well. */
    @Test
    void dmaIntoCodeLeavesTheOthersOnTheirBytes() {
        UnitLibrary lib = new UnitLibrary(true);
        try (TestMachine a = new TestMachine(CODE, JitOptions.OFF, lib);
             TestMachine b = new TestMachine(CODE, JitOptions.OFF, lib)) {
            setFlag(a, 1);
            setFlag(b, 1);
            a.run();
            b.run();
            a.ram.segment().set(ValueLayout.JAVA_BYTE, movEbxImmediate(), (byte) 0x66);
            a.cpu.invalidateCode(movEbxImmediate(), 1);
            rerun(a);
            rerun(b);
            assertEquals(0x66, a.reg(3));
            assertEquals(0x22, b.reg(3));
        }
    }
}
