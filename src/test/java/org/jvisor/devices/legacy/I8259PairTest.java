package org.jvisor.devices.legacy;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Drives the PIC pair as Linux's arch/x86/kernel/i8259.c does. */
class I8259PairTest {
    private boolean intr;
    private int intrEdges;
    private I8259Pair pic;

    @BeforeEach
    void setUp() {
        pic = new I8259Pair(level -> {
            if (level && !intr) {
                intrEdges++;
            }
            intr = level;
        });
        linuxInit();
    }

    private void out(int port, int v) {
        switch (port) {
            case 0x20, 0x21 -> pic.masterPorts().write(port - 0x20, 1, v);
            case 0xA0, 0xA1 -> pic.slavePorts().write(port - 0xA0, 1, v);
            case 0x4D0, 0x4D1 -> pic.elcrPorts().write(port - 0x4D0, 1, v);
            default -> throw new IllegalArgumentException();
        }
    }

    private int in(int port) {
        return (int) switch (port) {
            case 0x20, 0x21 -> pic.masterPorts().read(port - 0x20, 1);
            case 0xA0, 0xA1 -> pic.slavePorts().read(port - 0xA0, 1);
            default -> pic.elcrPorts().read(port - 0x4D0, 1);
        };
    }

    /** init_8259A(0): mask all, ICW1-4 on both, vectors 0x30/0x38, then unmask all but what is unused. */
    private void linuxInit() {
        out(0x21, 0xFF);
        out(0xA1, 0xFF);
        out(0x20, 0x11);
        out(0x21, 0x30);
        out(0x21, 0x04);
        out(0x21, 0x01);
        out(0xA0, 0x11);
        out(0xA1, 0x38);
        out(0xA1, 0x02);
        out(0xA1, 0x01);
        out(0x21, 0x00);
        out(0xA1, 0x00);
    }

    @Test
    void probeReadsBackTheMaskAndInitSetsVectorBases() {
        out(0xA1, 0xFF);
        out(0x21, 0xFB);
        assertEquals(0xFB, in(0x21));
        assertEquals(0x30, pic.vectorBase(false));
        assertEquals(0x38, pic.vectorBase(true));
        assertFalse(intr);
    }

    @Test
    void higherPriorityWinsAndInServiceBlocksLowerUntilEoi() {
        pic.irq(3).pulse();
        pic.irq(1).pulse();
        assertTrue(intr);
        assertEquals(0x31, pic.acknowledge());
        assertEquals(0x02, pic.isr(false));
        assertFalse(intr, "IRQ3 waits while IRQ1 is in service");
        pic.irq(0).pulse();
        assertTrue(intr, "IRQ0 preempts IRQ1");
        assertEquals(0x30, pic.acknowledge());
        out(0x20, 0x60); // specific EOI IRQ0
        assertFalse(intr);
        out(0x20, 0x20); // non-specific EOI: clears IRQ1, the highest in service
        assertTrue(intr);
        assertEquals(0x33, pic.acknowledge());
        out(0x20, 0x63);
        assertEquals(0, pic.isr(false));
        assertFalse(intr);
    }

    @Test
    void ocw3SelectsIrrOrIsrAndMaskedRequestsWait() {
        out(0x21, 0x10); // mask IRQ4
        pic.irq(4).pulse();
        assertFalse(intr);
        out(0x20, 0x0A);
        assertEquals(0x10, in(0x20), "IRR");
        out(0x21, 0x00);
        assertTrue(intr);
        assertEquals(0x34, pic.acknowledge());
        out(0x20, 0x0B);
        assertEquals(0x10, in(0x20), "ISR");
        out(0x20, 0x0A);
        assertEquals(0x00, in(0x20));
    }

    @Test
    void cascadeDeliversSlaveVectorsThroughIr2() {
        pic.irq(10).set(true);
        assertTrue(intr);
        assertEquals(0x3A, pic.acknowledge());
        assertEquals(0x04, pic.isr(false));
        assertEquals(0x04, pic.isr(true));
        pic.irq(10).set(false);
        pic.irq(12).pulse();
        assertFalse(intr, "slave IRQ12 is below IRQ10 in service");
        out(0xA0, 0x62); // Linux: specific EOI on the slave, then the cascade on the master
        out(0x20, 0x62);
        assertTrue(intr);
        assertEquals(0x3C, pic.acknowledge());
        assertEquals(0x10, pic.isr(true));
    }

    @Test
    void masterIrqsOutrankSlaveOnesBelowIr2() {
        pic.irq(9).pulse();
        pic.irq(5).pulse();
        assertEquals(0x39, pic.acknowledge(), "IR2 (slave) outranks IR5");
        out(0xA0, 0x20);
        out(0x20, 0x20);
        assertEquals(0x35, pic.acknowledge());
    }

    @Test
    void spuriousIrq7WhenTheRequestWentAway() {
        out(0x4D0, 0x20); // IRQ5 level-triggered
        assertEquals(0x20, in(0x4D0));
        pic.irq(5).set(true);
        assertTrue(intr);
        pic.irq(5).set(false);
        assertFalse(intr);
        assertEquals(0x37, pic.acknowledge(), "INTA with nothing pending answers IR7");
        assertEquals(0, pic.isr(false), "spurious IRQ7 sets no ISR bit");
        assertEquals(1, pic.spuriousCount());
    }

    @Test
    void spuriousIrq15SetsTheCascadeInServiceBit() {
        out(0x4D1, 0x02); // IRQ9 level-triggered
        pic.irq(9).set(true);
        pic.irq(9).set(false); // gone after the master latched IR2
        assertTrue(intr);
        assertEquals(0x3F, pic.acknowledge());
        assertEquals(0x04, pic.isr(false), "the master still needs an EOI");
        assertEquals(0, pic.isr(true));
    }

    @Test
    void levelTriggeredRequestStaysUntilTheLineDrops() {
        out(0x4D1, 0x08); // IRQ11 level
        pic.irq(11).set(true);
        assertEquals(0x3B, pic.acknowledge());
        out(0xA0, 0x20);
        out(0x20, 0x20);
        assertTrue(intr, "still asserted: delivered again");
        assertEquals(0x3B, pic.acknowledge());
        pic.irq(11).set(false);
        out(0xA0, 0x20);
        out(0x20, 0x20);
        assertFalse(intr);
    }

    @Test
    void edgeNeedsANewRisingEdge() {
        pic.irq(4).set(true);
        assertEquals(0x34, pic.acknowledge());
        out(0x20, 0x20);
        assertFalse(intr, "a held edge line does not re-trigger");
        pic.irq(4).set(false);
        pic.irq(4).set(true);
        assertTrue(intr);
    }

    @Test
    void autoEoiAndRotation() {
        out(0x20, 0x11);
        out(0x21, 0x30);
        out(0x21, 0x04);
        out(0x21, 0x03); // 8086 mode, auto-EOI
        out(0x21, 0x00);
        pic.irq(1).pulse();
        assertEquals(0x31, pic.acknowledge());
        assertEquals(0, pic.isr(false));
        out(0x20, 0xC4); // set priority: IRQ4 lowest, so IRQ5 highest
        pic.irq(3).pulse();
        pic.irq(6).pulse();
        assertEquals(0x36, pic.acknowledge(), "after rotation IRQ6 outranks IRQ3");
    }

    @Test
    void pollCommandActsAsAcknowledge() {
        pic.irq(6).pulse();
        out(0x20, 0x0C);
        assertEquals(0x86, in(0x20));
        assertEquals(0x40, pic.isr(false));
        out(0x20, 0x0C);
        assertEquals(0x00, in(0x20));
    }

    @Test
    void intrEdgesFollowRequests() {
        int before = intrEdges;
        pic.irq(3).pulse();
        pic.acknowledge();
        out(0x20, 0x20);
        pic.irq(3).pulse();
        assertEquals(before + 2, intrEdges);
    }
}
