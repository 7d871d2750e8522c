package org.jvisor.devices.legacy;

import java.util.List;

import org.jvisor.devices.PlatformControl;
import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * The 8042 keyboard controller of a PC/AT with PS/2 ports (IBM PS/2 Hardware Interface Technical
 * Reference, "Keyboard/Auxiliary Device Controller"): data port 0x60, status/command port 0x64,
 * the command byte, self-test (0xAA answers 0x55), interface tests, the output port with the
 * system-reset and A20 lines, and pulse-output commands (0xFE resets the machine through
 * {@link PlatformControl#reset}).
 *
 * <p>A PS/2 keyboard is attached (or not, by constructor): it answers reset (0xFF: 0xFA 0xAA),
 * identify (0xF2: 0xFA 0xAB 0x83, 0x41 when the controller translates), LEDs, typematic,
 * scan-code set, enable/disable and echo. Without a keyboard, bytes sent to it come back as 0xFF
 * with the time-out status bit, as on a controller with nothing plugged in, so Linux's atkbd
 * gives up at once. The auxiliary port exists (the loop-back command 0xD3 and IRQ12 work, as
 * Linux's i8042 probe checks) but no mouse is attached: bytes for it (0xD4) answer 0xFE with
 * time-out. Host key input is {@link #keyboardInput(int)}, in the scan-code set the guest reads.
 */
public final class I8042 implements BusDevice, StatefulDevice<I8042State> {
    /** Where the output port's A20 line goes (the engine's A20 mask). */
    @FunctionalInterface
    public interface A20Gate {
        void setA20(boolean enabled);
    }

    // Status register
    public static final int STATUS_OBF = 0x01, STATUS_SYS = 0x04, STATUS_CMD = 0x08,
        STATUS_UNLOCKED = 0x10, STATUS_AUX = 0x20, STATUS_TIMEOUT = 0x40;
    // Command byte
    public static final int CTR_KBDINT = 0x01, CTR_AUXINT = 0x02, CTR_SYS = 0x04, CTR_KBDDIS = 0x10,
        CTR_AUXDIS = 0x20, CTR_XLATE = 0x40;
    // Output port
    private static final int OUT_RESET = 0x01, OUT_A20 = 0x02, OUT_KBD_OBF = 0x10, OUT_AUX_OBF = 0x20;

    private static final int FROM_AUX = 1 << 8;
    private static final int TIMEOUT = 1 << 9;
    private static final int QUEUE = 64;
    private static final String NAME = "i8042";

    private final PlatformControl platform;
    private final IrqLine irq1;
    private final IrqLine irq12;
    private final boolean keyboardAttached;
    private volatile A20Gate a20Gate = enabled -> { };

    private final byte[] ram = new byte[32];
    private int outputPort;
    private boolean lastWriteWasCommand;
    private int pendingCommand;
    /** The output buffer: a byte plus FROM_AUX/TIMEOUT flags; valid when {@link #obf}. */
    private int output;
    private boolean obf;
    private final Ring controllerQueue = new Ring();
    private final Ring keyboardQueue = new Ring();
    private boolean irq1Level;
    private boolean irq12Level;
    // Keyboard
    private int keyboardPending;
    private boolean scanning;
    private int scanCodeSet;
    private int leds;

    private final BusDevice dataPort = new BusDevice() {
        @Override
        public long read(long offset, int size) {
            return I8042.this.read(0, size);
        }

        @Override
        public void write(long offset, int size, long value) {
            I8042.this.write(0, size, value);
        }
    };

    private final BusDevice commandPort = new BusDevice() {
        @Override
        public long read(long offset, int size) {
            return I8042.this.read(4, size);
        }

        @Override
        public void write(long offset, int size, long value) {
            I8042.this.write(4, size, value);
        }
    };

    public I8042(PlatformControl platform, IrqLine irq1, IrqLine irq12, boolean keyboardAttached) {
        this.platform = platform;
        this.irq1 = irq1;
        this.irq12 = irq12;
        this.keyboardAttached = keyboardAttached;
        reset();
    }

    public void setA20Gate(A20Gate gate) {
        this.a20Gate = gate == null ? enabled -> { } : gate;
    }

    /**
     * State after the BIOS: keyboard interrupt on, translation on, system flag set (POST passed),
     * A20 enabled, both buffers empty.
     */
    public synchronized void reset() {
        java.util.Arrays.fill(ram, (byte) 0);
        ram[0] = (byte) (CTR_KBDINT | CTR_SYS | CTR_XLATE | CTR_AUXDIS);
        outputPort = OUT_RESET | OUT_A20;
        lastWriteWasCommand = false;
        pendingCommand = 0;
        obf = false;
        controllerQueue.clear();
        keyboardQueue.clear();
        keyboardPending = 0;
        scanning = true;
        scanCodeSet = 2;
        leds = 0;
        updateIrq();
    }

    /** Registers port 0x60 and port 0x64 (0x61 in between belongs to the PIT's port B). */
    public void registerPorts(AddressSpace io) {
        io.register("i8042-data", 0x60, 1, dataPort);
        io.register("i8042-cmd", 0x64, 1, commandPort);
    }

    public BusDevice dataPort() {
        return dataPort;
    }

    public BusDevice commandPort() {
        return commandPort;
    }

    /** Offset 0 is the data port (0x60), offset 4 the status/command port (0x64). */
    @Override
    public synchronized long read(long offset, int size) {
        if (offset == 0) {
            int v = output & 0xFF;
            obf = false;
            updateIrq(); // the line drops before the next byte moves in, so each byte is an edge
            refill();
            updateIrq();
            return v;
        } else if (offset == 4) {
            return status();
        }
        return 0xFF;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) value & 0xFF;
        if (offset == 0) {
            lastWriteWasCommand = false;
            writeData(v);
        } else if (offset == 4) {
            lastWriteWasCommand = true;
            command(v);
        }
        refill();
        updateIrq();
    }

    private int ctr() {
        return ram[0] & 0xFF;
    }

    private int status() {
        int s = STATUS_UNLOCKED;
        if (obf) {
            s |= STATUS_OBF;
            if ((output & FROM_AUX) != 0) {
                s |= STATUS_AUX;
            }
            if ((output & TIMEOUT) != 0) {
                s |= STATUS_TIMEOUT;
            }
        }
        if ((ctr() & CTR_SYS) != 0) {
            s |= STATUS_SYS;
        }
        if (lastWriteWasCommand) {
            s |= STATUS_CMD;
        }
        return s;
    }

    private void command(int cmd) {
        pendingCommand = 0;
        if (cmd >= 0x20 && cmd <= 0x3F) {
            controllerQueue.add(ram[cmd & 0x1F] & 0xFF); // 0x20: read command byte
            return;
        }
        if (cmd >= 0x60 && cmd <= 0x7F) {
            pendingCommand = cmd; // 0x60: write command byte
            return;
        }
        switch (cmd) {
            case 0xA7 -> ram[0] |= CTR_AUXDIS;
            case 0xA8 -> ram[0] &= ~CTR_AUXDIS;
            case 0xA9 -> controllerQueue.add(0x00); // aux interface test: no error
            case 0xAA -> {
                ram[0] |= CTR_SYS;
                controllerQueue.add(0x55); // self-test passed
            }
            case 0xAB -> controllerQueue.add(0x00); // keyboard interface test: no error
            case 0xAD -> ram[0] |= CTR_KBDDIS;
            case 0xAE -> ram[0] &= ~CTR_KBDDIS;
            case 0xC0 -> controllerQueue.add(0x80); // input port: keyboard not inhibited
            case 0xD0 -> {
                int p = outputPort & ~(OUT_KBD_OBF | OUT_AUX_OBF);
                if (obf) {
                    p |= (output & FROM_AUX) != 0 ? OUT_AUX_OBF : OUT_KBD_OBF;
                }
                controllerQueue.add(p);
            }
            case 0xD1, 0xD2, 0xD3, 0xD4 -> pendingCommand = cmd;
            case 0xDD -> setOutputPort(outputPort & ~OUT_A20);
            case 0xDF -> setOutputPort(outputPort | OUT_A20);
            case 0xE0 -> controllerQueue.add(0x00); // test inputs
            default -> {
                if (cmd >= 0xF0) {
                    // Pulse output port bits whose mask bit is 0 for 6 µs; bit 0 is the reset line.
                    if ((cmd & 0x01) == 0) {
                        platform.reset("i8042 reset (command 0x" + Integer.toHexString(cmd) + ")");
                    }
                }
                // anything else: ignored
            }
        }
    }

    private void writeData(int v) {
        int cmd = pendingCommand;
        pendingCommand = 0;
        if (cmd >= 0x60 && cmd <= 0x7F) {
            ram[cmd & 0x1F] = (byte) v;
            return;
        }
        switch (cmd) {
            case 0xD1 -> setOutputPort(v);
            case 0xD2 -> keyboardQueue.add(v); // as if from the keyboard
            case 0xD3 -> controllerQueue.add(v | FROM_AUX); // aux loop-back
            case 0xD4 -> controllerQueue.add(0xFE | FROM_AUX | TIMEOUT); // no mouse attached
            default -> {
                // Data for the keyboard; sending to it re-enables the keyboard interface.
                ram[0] &= ~CTR_KBDDIS;
                keyboard(v);
            }
        }
    }

    private void setOutputPort(int v) {
        int old = outputPort;
        outputPort = v & ~(OUT_KBD_OBF | OUT_AUX_OBF);
        if (((old ^ outputPort) & OUT_A20) != 0) {
            a20Gate.setA20((outputPort & OUT_A20) != 0);
        }
        if ((outputPort & OUT_RESET) == 0) {
            outputPort |= OUT_RESET; // the line is pulled back up by the reset itself
            platform.reset("i8042 reset (output port bit 0 cleared)");
        }
    }

    /** Whether the output port's A20 line is high. */
    public synchronized boolean a20() {
        return (outputPort & OUT_A20) != 0;
    }

    // ---- the keyboard ----

    private void keyboard(int v) {
        if (!keyboardAttached) {
            controllerQueue.add(0xFF | TIMEOUT);
            return;
        }
        int pending = keyboardPending;
        keyboardPending = 0;
        switch (pending) {
            case 0xED -> {
                leds = v & 7;
                keyboardQueue.add(0xFA);
                return;
            }
            case 0xF3 -> {
                keyboardQueue.add(0xFA);
                return;
            }
            case 0xF0 -> {
                keyboardQueue.add(0xFA);
                if (v == 0) {
                    keyboardQueue.add(translate(scanCodeSet));
                } else if (v <= 3) {
                    scanCodeSet = v;
                }
                return;
            }
            default -> {
                // a command byte
            }
        }
        switch (v) {
            case 0xFF -> { // reset: acknowledge, then the basic assurance test passed
                keyboardQueue.clear();
                scanning = true;
                scanCodeSet = 2;
                leds = 0;
                keyboardQueue.add(0xFA);
                keyboardQueue.add(0xAA);
            }
            case 0xF2 -> { // identify: MF2 keyboard
                keyboardQueue.add(0xFA);
                keyboardQueue.add(0xAB);
                keyboardQueue.add(translate(0x83));
            }
            case 0xED, 0xF3, 0xF0 -> {
                keyboardPending = v;
                keyboardQueue.add(0xFA);
            }
            case 0xF4 -> {
                scanning = true;
                keyboardQueue.add(0xFA);
            }
            case 0xF5 -> {
                scanning = false;
                keyboardQueue.add(0xFA);
            }
            case 0xF6 -> {
                scanCodeSet = 2;
                keyboardQueue.add(0xFA);
            }
            case 0xEE -> keyboardQueue.add(0xEE); // echo
            case 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD -> keyboardQueue.add(0xFA);
            default -> keyboardQueue.add(0xFE); // resend: not understood
        }
    }

    /** The controller's set 2 -> set 1 translation, for the few bytes the keyboard itself sends. */
    private int translate(int v) {
        if ((ctr() & CTR_XLATE) == 0) {
            return v;
        }
        return switch (v) {
            case 0x83 -> 0x41;
            case 0x01 -> 0x43;
            case 0x02 -> 0x41;
            case 0x03 -> 0x3F;
            default -> v;
        };
    }

    /** A byte from the keyboard (host input), in the set the guest reads; dropped when no keyboard or scanning is off. */
    public synchronized void keyboardInput(int b) {
        if (!keyboardAttached || !scanning) {
            return;
        }
        keyboardQueue.add(b & 0xFF);
        refill();
        updateIrq();
    }

    public synchronized int leds() {
        return leds;
    }

    // ---- state ----

    @Override
    public synchronized I8042State saveState() {
        return new I8042State(Bytes.copyOf(ram), outputPort, lastWriteWasCommand, pendingCommand, output, obf,
            controllerQueue.toList(), keyboardQueue.toList(), keyboardPending, scanning, scanCodeSet, leds);
    }

    /** Restores controller and keyboard; IRQ1/IRQ12 and the A20 line follow the restored registers. */
    @Override
    public void restoreState(I8042State s) throws DeviceStateException {
        DeviceStateException.checkLength(NAME, "controller RAM", s.ram().length(), ram.length);
        DeviceStateException.checkRange(NAME, "output port", s.outputPort(), 0, 0xFF);
        DeviceStateException.checkRange(NAME, "pending command", s.pendingCommand(), 0, 0xFF);
        DeviceStateException.checkBits(NAME, "output buffer", s.output(), 0xFF | FROM_AUX | TIMEOUT);
        Ring.check("controller queue", s.controllerQueue());
        Ring.check("keyboard queue", s.keyboardQueue());
        DeviceStateException.checkRange(NAME, "keyboard pending command", s.keyboardPending(), 0, 0xFF);
        DeviceStateException.checkRange(NAME, "scan-code set", s.scanCodeSet(), 1, 3);
        DeviceStateException.checkBits(NAME, "LEDs", s.leds(), 7);
        boolean a20Changed;
        synchronized (this) {
            s.ram().copyTo(ram, 0);
            a20Changed = ((outputPort ^ s.outputPort()) & OUT_A20) != 0;
            outputPort = s.outputPort();
            lastWriteWasCommand = s.lastWriteWasCommand();
            pendingCommand = s.pendingCommand();
            output = s.output();
            obf = s.outputFull();
            controllerQueue.restore(s.controllerQueue());
            keyboardQueue.restore(s.keyboardQueue());
            keyboardPending = s.keyboardPending();
            scanning = s.scanning();
            scanCodeSet = s.scanCodeSet();
            leds = s.leds();
            updateIrq();
        }
        if (a20Changed) {
            a20Gate.setA20((s.outputPort() & OUT_A20) != 0);
        }
    }

    @Override
    public Class<I8042State> stateType() {
        return I8042State.class;
    }

    // ---- output buffer and IRQs ----

    private void refill() {
        if (obf) {
            return;
        }
        if (!controllerQueue.isEmpty()) {
            output = controllerQueue.remove();
            obf = true;
        } else if (!keyboardQueue.isEmpty() && (ctr() & CTR_KBDDIS) == 0) {
            output = keyboardQueue.remove();
            obf = true;
        }
    }

    private void updateIrq() {
        boolean aux = (output & FROM_AUX) != 0;
        boolean l1 = obf && !aux && (ctr() & CTR_KBDINT) != 0;
        boolean l12 = obf && aux && (ctr() & CTR_AUXINT) != 0;
        if (l1 != irq1Level) {
            irq1Level = l1;
            irq1.set(l1);
        }
        if (l12 != irq12Level) {
            irq12Level = l12;
            irq12.set(l12);
        }
    }

    /** A small FIFO of bytes with flags; the oldest bytes are dropped when full. */
    private static final class Ring {
        private final int[] items = new int[QUEUE];
        private int head;
        private int count;

        void add(int v) {
            if (count == QUEUE) {
                head = (head + 1) % QUEUE;
                count--;
            }
            items[(head + count) % QUEUE] = v;
            count++;
        }

        int remove() {
            int v = items[head];
            head = (head + 1) % QUEUE;
            count--;
            return v;
        }

        boolean isEmpty() {
            return count == 0;
        }

        void clear() {
            head = 0;
            count = 0;
        }

        /** The entries, oldest first. */
        List<Integer> toList() {
            Integer[] l = new Integer[count];
            for (int i = 0; i < count; i++) {
                l[i] = items[(head + i) % QUEUE];
            }
            return List.of(l);
        }

        void restore(List<Integer> entries) {
            clear();
            for (int v : entries) {
                add(v);
            }
        }

        static void check(String field, List<Integer> entries) throws DeviceStateException {
            DeviceStateException.checkRange(NAME, field + " length", entries.size(), 0, QUEUE);
            for (int v : entries) {
                DeviceStateException.checkBits(NAME, field + " entry", v, 0xFF | FROM_AUX | TIMEOUT);
            }
        }
    }
}
