package org.jvisor.devices.legacy;

import java.io.ByteArrayOutputStream;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.backend.chr.CharBackend;
import org.jvisor.memory.IrqLine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Drives the UART through its registers, as a guest driver (Linux's 8250) does. */
class Serial16550Test {
    private static final int THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    private final ByteArrayOutputStream sent = new ByteArrayOutputStream();
    private boolean irq;
    private int irqEdges;
    private Serial16550 uart;

    @BeforeEach
    void setUp() {
        CharBackend backend = new CharBackend() {
            @Override
            public void write(int b) {
                sent.write(b);
            }

            @Override
            public void start(Sink sink) {
            }

            @Override
            public void close() {
            }
        };
        IrqLine line = level -> {
            if (level && !irq) {
                irqEdges++;
            }
            irq = level;
        };
        uart = new Serial16550(backend, line);
    }

    private int r(int reg) {
        return (int) uart.read(reg, 1);
    }

    private void w(int reg, int v) {
        uart.write(reg, 1, v);
    }

    @Test
    void transmitterIsAlwaysEmptySoPollingGuestsNeverWait() {
        assertEquals(0x60, r(LSR) & 0x60);
        w(THR, 'h');
        w(THR, 'i');
        assertEquals(0x60, r(LSR) & 0x60);
        assertEquals("hi", sent.toString());
    }

    @Test
    void divisorLatchIsReachedThroughDlab() {
        w(LCR, 0x83);
        w(THR, 0x01);
        w(IER, 0x00);
        assertEquals(1, uart.divisor());
        assertEquals(0x01, r(THR));
        w(LCR, 0x03);
        w(THR, 'x');
        assertEquals("x", sent.toString(), "with DLAB clear offset 0 is THR again");
        assertEquals(0x03, r(LCR));
    }

    @Test
    void scratchRegisterHoldsAValue() {
        w(SCR, 0x5A);
        assertEquals(0x5A, r(SCR));
    }

    @Test
    void receivedBytesRaiseDataReadyAndTheRdaInterrupt() {
        w(MCR, 0x08); // OUT2 gates the IRQ on a PC
        w(IER, 0x01);
        assertFalse(irq);
        assertEquals(0x01, r(IIR) & 0x0F, "no interrupt pending");
        uart.receive("ok".getBytes(), 2);
        assertTrue(irq);
        assertEquals(0x04, r(IIR) & 0x0F, "received data available");
        assertEquals(0x01, r(LSR) & 0x01);
        assertEquals('o', r(THR));
        assertEquals('k', r(THR));
        assertEquals(0, r(LSR) & 0x01);
        assertFalse(irq);
    }

    @Test
    void interruptNeedsOut2() {
        w(MCR, 0x00);
        w(IER, 0x01);
        uart.receive(new byte[] {1}, 1);
        assertFalse(irq, "OUT2 clear: the interrupt does not reach the PIC");
        w(MCR, 0x08);
        assertTrue(irq);
    }

    @Test
    void thrEmptyInterruptOnEnableAndAfterEachWriteClearedByIirRead() {
        w(MCR, 0x08);
        w(IER, 0x02);
        assertTrue(irq, "enabling ETBEI with THR empty interrupts at once");
        assertEquals(0x02, r(IIR) & 0x0F);
        assertFalse(irq, "reading IIR clears THRE");
        w(THR, 'a');
        assertTrue(irq);
        assertEquals(2, irqEdges);
    }

    @Test
    void receiveDataHasPriorityOverThrEmpty() {
        w(MCR, 0x08);
        w(IER, 0x03);
        uart.receive(new byte[] {'z'}, 1);
        assertEquals(0x04, r(IIR) & 0x0F);
        r(THR);
        assertEquals(0x02, r(IIR) & 0x0F);
    }

    @Test
    void fifoEnabledShowsInIirAndFcrClearsTheReceiver() {
        w(FCR, 0x07);
        assertEquals(0xC0, r(IIR) & 0xC0);
        uart.receive("abc".getBytes(), 3);
        w(FCR, 0x03);
        assertEquals(0, r(LSR) & 0x01);
    }

    @Test
    void loopbackEchoesAndMirrorsModemControl() {
        // Linux's 8250 probe: loopback with OUT2|RTS? It checks MSR reflects MCR.
        w(MCR, 0x10 | 0x0A);
        assertEquals(0x90, r(MSR) & 0xF0, "OUT2->DCD, RTS->CTS");
        w(THR, 'L');
        assertEquals("", sent.toString(), "loopback keeps output inside the UART");
        assertEquals(0x01, r(LSR) & 0x01);
        assertEquals('L', r(THR));
        w(MCR, 0x08);
        assertEquals(0xB0, r(MSR) & 0xF0, "out of loopback: a connected host asserts DCD, DSR, CTS");
    }

    @Test
    void pastedTextBeyondTheFifoIsNotLost() {
        byte[] big = new byte[8192];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) ('a' + i % 26);
        }
        uart.receive(big, big.length);
        for (int i = 0; i < big.length; i++) {
            assertEquals(0x01, r(LSR) & 0x01);
            assertEquals(big[i] & 0xFF, r(THR));
        }
        assertEquals(0, uart.pendingInput());
    }

    /** A backend with room for nothing until {@link #release}, as a socket whose client reads slowly. */
    private static final class SlowBackend implements CharBackend {
        final ByteArrayOutputStream taken = new ByteArrayOutputStream();
        int room;
        Runnable waiting;

        @Override
        public boolean offer(int b) {
            if (room == 0) {
                return false;
            }
            room--;
            taken.write(b);
            return true;
        }

        @Override
        public void whenWritable(Runnable writable) {
            waiting = writable;
        }

        void release(int bytes) {
            room += bytes;
            Runnable w = waiting;
            waiting = null;
            w.run();
        }

        @Override
        public void write(int b) {
            taken.write(b);
        }

        @Override
        public void start(Sink sink) {
        }

        @Override
        public void close() {
        }
    }

    @Test
    void aBackendWithoutRoomHoldsTheTransmitterBusyUntilItTakesTheBytes() {
        SlowBackend slow = new SlowBackend();
        Serial16550 u = new Serial16550(slow, level -> irq = level);
        u.write(MCR, 1, 0x08);                       // OUT2: the interrupt reaches the PIC
        u.write(IER, 1, 0x02);                       // ETBEI: THRE fires at once, the FIFO is empty
        assertEquals(0x02, u.read(IIR, 1) & 0x0F);
        u.write(THR, 1, 'o');
        u.write(THR, 1, 'k');
        assertEquals(0, u.read(LSR, 1) & 0x60, "THRE and TEMT stay clear while the backend has no room");
        assertEquals(0x01, u.read(IIR, 1) & 0x0F, "no THRE interrupt yet");
        assertFalse(irq);
        slow.release(1);
        assertEquals("o", slow.taken.toString());
        assertEquals(0, u.read(LSR, 1) & 0x60, "one byte still waits");
        slow.release(16);
        assertEquals("ok", slow.taken.toString(), "in order, nothing lost");
        assertEquals(0x60, u.read(LSR, 1) & 0x60);
        assertTrue(irq, "THRE interrupt once the FIFO is empty");
        assertEquals(0x02, u.read(IIR, 1) & 0x0F);
    }

    /**
     * A snapshot taken while the backend has no room (a socket client that stopped reading) keeps
     * the transmit FIFO: saving sends nothing, and the restored UART hands the bytes, in order, to
     * its own backend; THRE is back once they are taken.
     */
    @Test
    void theTransmitFifoTravelsWithTheStateAndNothingIsLost() throws Exception {
        SlowBackend stalled = new SlowBackend();
        Serial16550 u = new Serial16550(stalled, level -> { });
        for (char c : "saved".toCharArray()) {
            u.write(THR, 1, c);
        }
        UartState s = u.saveState();
        assertEquals("saved", new String(s.transmit().toArray(), java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals("", stalled.taken.toString(), "saving sends nothing");
        SlowBackend later = new SlowBackend();
        later.room = 2;
        Serial16550 twin = new Serial16550(later, level -> { });
        twin.restoreState(s);
        assertEquals("sa", later.taken.toString(), "as far as the new backend takes them");
        assertEquals(0, twin.read(LSR, 1) & 0x60, "THRE clear while three wait");
        later.release(16);
        assertEquals("saved", later.taken.toString(), "in order, nothing lost");
        assertEquals(0x60, twin.read(LSR, 1) & 0x60);
        assertEquals(0, twin.saveState().transmit().length());
    }

    @Test
    void aFullTransmitFifoDropsWhatTheGuestWritesWithoutCheckingAndFcrClearsIt() {
        SlowBackend slow = new SlowBackend();
        Serial16550 u = new Serial16550(slow, level -> irq = level);
        for (int i = 0; i < 20; i++) {
            u.write(THR, 1, 'a' + i);
        }
        slow.release(100);
        assertEquals("abcdefghijklmnop", slow.taken.toString(), "16 bytes in the FIFO; the rest was written to a full THR");
        u.write(THR, 1, 'x');
        u.write(FCR, 1, 0x05);                       // FIFO enable + XMIT FIFO reset
        assertEquals(0x60, u.read(LSR, 1) & 0x60);
    }

    /**
     * With the socket chardev: a polling driver (Linux's 8250 console waits for THRE before each
     * byte) writes to a client that reads nothing. Once the chardev's buffer and the socket are
     * full THRE stays clear, for three times as long as the chardev once waited before dropping;
     * when the client reads, every byte written arrives, in order, and THRE comes back.
     */
    @Test
    void aSocketClientThatStopsReadingHoldsThreClearAndLosesNothing(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.util.List<String> log = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        java.nio.file.Path path = dir.resolve("com1.sock");
        org.jvisor.backend.chr.UnixSocketServerBackend b = org.jvisor.backend.chr.UnixSocketServerBackend.listen(path, false, log::add);
        Serial16550 u = new Serial16550(b, level -> { });
        u.start();
        long watchdog = System.nanoTime() + 60_000_000_000L;   // a hang guard, not a time limit
        try (java.nio.channels.SocketChannel c = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            c.connect(java.net.UnixDomainSocketAddress.of(path));
            while (!b.connected()) {
                assertTrue(System.nanoTime() < watchdog, "watchdog: the chardev never saw the client");
                Thread.sleep(10);
            }
            long written = 0;
            long clearSince = 0;
            while (true) {
                assertTrue(written < 8 << 20, "THRE never stayed clear: " + written
                    + " bytes taken for a client that reads nothing, more than the buffers hold (dropped)");
                if ((u.read(LSR, 1) & 0x20) != 0) {
                    u.write(THR, 1, (int) (written % 251));
                    written++;
                    clearSince = 0;
                } else if (clearSince == 0) {
                    clearSince = System.nanoTime();
                } else if (System.nanoTime() - clearSince > 3_000_000_000L) {
                    break;
                } else {
                    Thread.sleep(10);
                }
            }
            assertTrue(written > 64 * 1024, "the chardev's buffer filled first: " + written);
            c.configureBlocking(false);
            java.nio.ByteBuffer in = java.nio.ByteBuffer.allocate(1 << 16);
            long got = 0;
            boolean inOrder = true;
            while (got < written) {
                assertTrue(System.nanoTime() < watchdog + 60_000_000_000L, "watchdog: " + got + " of " + written + " arrived");
                int n = c.read(in.clear());
                if (n == 0) {
                    Thread.sleep(10);
                }
                for (int i = 0; i < n; i++) {
                    inOrder &= (in.get(i) & 0xFF) == (got + i) % 251;
                }
                got += Math.max(n, 0);
            }
            assertTrue(inOrder, "every byte, in order");
            assertEquals(written, got);
            while ((u.read(LSR, 1) & 0x60) != 0x60) {
                assertTrue(System.nanoTime() < watchdog + 120_000_000_000L, "watchdog: THRE never came back");
                Thread.sleep(10);
            }
            assertEquals(0, log.size(), "nothing dropped: " + log);
        } finally {
            b.close();
        }
    }
}
