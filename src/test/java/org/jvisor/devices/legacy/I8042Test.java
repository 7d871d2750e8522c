package org.jvisor.devices.legacy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.PlatformControl;

import static org.jvisor.devices.legacy.I8042.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class I8042Test {
    private final List<String> platform = new ArrayList<>();
    private int irq1Edges;
    private boolean irq1;
    private int irq12Edges;
    private boolean irq12;
    private Boolean a20;

    private I8042 controller(boolean keyboard) {
        PlatformControl pc = new PlatformControl() {
            @Override
            public void exit(int status, String reason) {
                platform.add("exit");
            }

            @Override
            public void reset(String reason) {
                platform.add("reset");
            }

            @Override
            public void powerOff(String reason) {
                platform.add("off");
            }
        };
        I8042 kbc = new I8042(pc, level -> {
            if (level && !irq1) {
                irq1Edges++;
            }
            irq1 = level;
        }, level -> {
            if (level && !irq12) {
                irq12Edges++;
            }
            irq12 = level;
        }, keyboard);
        kbc.setA20Gate(on -> a20 = on);
        return kbc;
    }

    private static int status(I8042 k) {
        return (int) k.commandPort().read(0, 1);
    }

    private static int data(I8042 k) {
        return (int) k.dataPort().read(0, 1);
    }

    private static void cmd(I8042 k, int v) {
        k.commandPort().write(0, 1, v);
    }

    private static void out(I8042 k, int v) {
        k.dataPort().write(0, 1, v);
    }

    @Test
    void selfTestAndInterfaceTest() {
        I8042 k = controller(true);
        assertEquals(0, status(k) & STATUS_OBF);
        cmd(k, 0xAA);
        assertEquals(STATUS_OBF, status(k) & STATUS_OBF);
        assertEquals(0x55, data(k));
        assertEquals(0, status(k) & STATUS_OBF);
        assertTrue((status(k) & STATUS_SYS) != 0);
        cmd(k, 0xAB);
        assertEquals(0x00, data(k));
    }

    @Test
    void linuxProbeSequence() {
        // i8042_controller_check / selftest / init: flush, read CTR, write CTR, aux checks.
        I8042 k = controller(true);
        assertEquals(0, status(k) & STATUS_OBF, "nothing to flush");
        cmd(k, 0x20);
        int ctr = data(k);
        assertEquals(CTR_KBDINT | CTR_SYS | CTR_XLATE | CTR_AUXDIS, ctr);
        cmd(k, 0xAA);
        assertEquals(0x55, data(k));
        ctr = (ctr | CTR_KBDDIS) & ~CTR_KBDINT;
        cmd(k, 0x60);
        out(k, ctr);
        cmd(k, 0x20);
        assertEquals(ctr, data(k));
        // i8042_check_aux: loop-back answers from the aux port
        cmd(k, 0xD3);
        out(k, 0x5A);
        assertEquals(STATUS_OBF | STATUS_AUX, status(k) & (STATUS_OBF | STATUS_AUX));
        assertEquals(0x5A, data(k));
        cmd(k, 0xA7);
        cmd(k, 0x20);
        assertTrue((data(k) & CTR_AUXDIS) != 0);
        cmd(k, 0xA8);
        cmd(k, 0x20);
        assertEquals(0, data(k) & CTR_AUXDIS);
        // the IRQ test: AUXINT on, loop-back raises IRQ12
        cmd(k, 0x60);
        out(k, ctr | CTR_AUXINT);
        cmd(k, 0xD3);
        out(k, 0xA5);
        assertTrue(irq12);
        assertEquals(0xA5, data(k));
        assertFalse(irq12);
        // no mouse behind the aux port
        cmd(k, 0xD4);
        out(k, 0xF2);
        assertEquals(STATUS_OBF | STATUS_AUX | STATUS_TIMEOUT, status(k) & (STATUS_OBF | STATUS_AUX | STATUS_TIMEOUT));
        assertEquals(0xFE, data(k));
    }

    @Test
    void keyboardResetAndIdentify() {
        I8042 k = controller(true);
        out(k, 0xFF);
        assertTrue(irq1);
        assertEquals(0xFA, data(k));
        assertTrue(irq1, "next byte refilled the buffer");
        assertEquals(0xAA, data(k));
        assertFalse(irq1);
        assertEquals(2, irq1Edges);
        out(k, 0xF2);
        assertEquals(0xFA, data(k));
        assertEquals(0xAB, data(k));
        assertEquals(0x41, data(k), "0x83 translated (XLATE on)");
        cmd(k, 0x60);
        out(k, CTR_KBDINT | CTR_SYS);
        out(k, 0xF2);
        data(k);
        data(k);
        assertEquals(0x83, data(k));
        out(k, 0xED);
        assertEquals(0xFA, data(k));
        out(k, 0x07);
        assertEquals(0xFA, data(k));
        assertEquals(7, k.leds());
        out(k, 0xEE);
        assertEquals(0xEE, data(k));
    }

    @Test
    void withoutKeyboardCommandsTimeOut() {
        I8042 k = controller(false);
        cmd(k, 0xAA);
        assertEquals(0x55, data(k), "the controller itself is there");
        out(k, 0xFF);
        assertTrue((status(k) & STATUS_TIMEOUT) != 0);
        assertEquals(0xFF, data(k));
        assertEquals(0, status(k) & STATUS_OBF);
    }

    @Test
    void disabledKeyboardHoldsItsBytesButControllerAnswers() {
        I8042 k = controller(true);
        cmd(k, 0xAD);
        k.keyboardInput(0x1E);
        assertEquals(0, status(k) & STATUS_OBF);
        cmd(k, 0x20);
        assertTrue((data(k) & CTR_KBDDIS) != 0);
        cmd(k, 0xAE);
        assertEquals(0x1E, data(k));
    }

    @Test
    void resetPulseAndOutputPort() {
        I8042 k = controller(true);
        cmd(k, 0xFE);
        assertEquals(List.of("reset"), platform);
        cmd(k, 0xFF); // pulses nothing
        assertEquals(1, platform.size());
        cmd(k, 0xD0);
        assertEquals(0x03, data(k) & 0x03, "reset line high, A20 on");
        cmd(k, 0xD1);
        out(k, 0x01);
        assertEquals(Boolean.FALSE, a20);
        assertFalse(k.a20());
        cmd(k, 0xDF);
        assertEquals(Boolean.TRUE, a20);
        cmd(k, 0xD1);
        out(k, 0x02); // bit 0 low: reset
        assertEquals(List.of("reset", "reset"), platform);
        assertEquals(0, status(k) & STATUS_CMD, "A2: the last write went to the data port");
        cmd(k, 0xA8);
        assertEquals(STATUS_CMD, status(k) & STATUS_CMD);
    }
}
