package org.jvisor.devices.legacy;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * The PC/AT pair of 8259A programmable interrupt controllers (Intel 8259A data sheet, order
 * 231468): a master at ports 0x20/0x21 with the slave cascaded on its IR2, the slave at 0xA0/0xA1,
 * and the PIIX edge/level control registers (ELCR) at 0x4D0/0x4D1.
 *
 * <p>Inputs are the sixteen ISA IRQ lines ({@link #irq(int)}); the output is INTR, reported to the
 * {@link IrqLine} given at construction whenever it changes; the CPU (or a LAPIC's LINT0 in ExtINT
 * mode) takes the vector with {@link #acknowledge()}, which does what the two INTA cycles do.
 * All methods are synchronized: the device may be driven from vCPU, device and timer threads.
 */
public final class I8259Pair implements BusDevice, StatefulDevice<PicState> {
    /** Which IRQs may be level-triggered (PIIX: not 0, 1, 2, 8, 13). */
    private static final int ELCR_MASK_MASTER = 0xF8;
    private static final int ELCR_MASK_SLAVE = 0xDE;
    private static final String NAME = "8259A PIC";

    private final Chip master = new Chip(true);
    private final Chip slave = new Chip(false);
    private final IrqLine intr;
    private boolean intrLevel;
    private long spurious;

    private final BusDevice masterPorts = new ChipPorts(master);
    private final BusDevice slavePorts = new ChipPorts(slave);
    private final BusDevice elcrPorts = new BusDevice() {
        @Override
        public long read(long offset, int size) {
            synchronized (I8259Pair.this) {
                return (offset == 0 ? master.elcr : slave.elcr) & 0xFF;
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (I8259Pair.this) {
                if (offset == 0) {
                    master.elcr = (int) value & ELCR_MASK_MASTER;
                } else {
                    slave.elcr = (int) value & ELCR_MASK_SLAVE;
                }
                master.refreshLevels();
                slave.refreshLevels();
                update();
            }
        }
    };

    /** @param intr the INTR output (to the CPU's INTR pin or to LINT0 of the local APICs). */
    public I8259Pair(IrqLine intr) {
        this.intr = intr;
        reset();
    }

    /** Power-on state: both chips uninitialized, all IRQs masked (as the BIOS would leave them). */
    public synchronized void reset() {
        master.reset();
        slave.reset();
        master.elcr = 0;
        slave.elcr = 0;
        update();
    }

    /** Registers 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1 in an I/O space. */
    public void registerPorts(AddressSpace io) {
        io.register("pic-master", 0x20, 2, masterPorts);
        io.register("pic-slave", 0xA0, 2, slavePorts);
        io.register("pic-elcr", 0x4D0, 2, elcrPorts);
    }

    public BusDevice masterPorts() {
        return masterPorts;
    }

    public BusDevice slavePorts() {
        return slavePorts;
    }

    public BusDevice elcrPorts() {
        return elcrPorts;
    }

    /**
     * As a single BusDevice: offsets 0-1 are the master, 0x80-0x81 the slave (its ports minus 0x20),
     * 0x4B0-0x4B1 the ELCR. {@link #registerPorts} is the usual way.
     */
    @Override
    public long read(long offset, int size) {
        if (offset < 2) {
            return masterPorts.read(offset, size);
        } else if (offset >= 0x80 && offset < 0x82) {
            return slavePorts.read(offset - 0x80, size);
        } else if (offset >= 0x4B0 && offset < 0x4B2) {
            return elcrPorts.read(offset - 0x4B0, size);
        }
        return 0xFF;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset < 2) {
            masterPorts.write(offset, size, value);
        } else if (offset >= 0x80 && offset < 0x82) {
            slavePorts.write(offset - 0x80, size, value);
        } else if (offset >= 0x4B0 && offset < 0x4B2) {
            elcrPorts.write(offset - 0x4B0, size, value);
        }
    }

    /** The input wire of ISA IRQ {@code n} (0-15). */
    public IrqLine irq(int n) {
        if (n < 0 || n > 15) {
            throw new IllegalArgumentException("PIC IRQ " + n);
        }
        return level -> setIrq(n, level);
    }

    public synchronized void setIrq(int n, boolean level) {
        if (n < 8) {
            master.setPin(n, level);
        } else {
            slave.setPin(n - 8, level);
        }
        update();
    }

    /** The INTR output. */
    public synchronized boolean intr() {
        return intrLevel;
    }

    /**
     * The interrupt acknowledge cycles: returns the vector of the highest-priority request and moves
     * it from IRR to ISR (data sheet, "Interrupt sequence"). With nothing left to deliver (the
     * request went away), the chip answers with its IR7 vector and sets no ISR bit: the spurious
     * IRQ7, or IRQ15 from the slave (then the master's ISR bit 2 is set, and the guest must EOI it).
     */
    public synchronized int acknowledge() {
        int irq = master.highestDeliverable();
        int vector;
        if (irq < 0) {
            spurious++;
            vector = master.vectorBase | 7;
        } else {
            master.ack(irq);
            if (irq == 2 && !master.single) {
                int s = slave.highestDeliverable();
                if (s < 0) {
                    spurious++;
                    vector = slave.vectorBase | 7;
                } else {
                    slave.ack(s);
                    vector = slave.vectorBase | s;
                }
            } else {
                vector = master.vectorBase | irq;
            }
        }
        update();
        return vector;
    }

    /** Spurious acknowledges so far (IRQ7 or IRQ15 vectors handed out with nothing pending). */
    public synchronized long spuriousCount() {
        return spurious;
    }

    public synchronized int irr(boolean ofSlave) {
        return (ofSlave ? slave : master).irr;
    }

    public synchronized int isr(boolean ofSlave) {
        return (ofSlave ? slave : master).isr;
    }

    public synchronized int imr(boolean ofSlave) {
        return (ofSlave ? slave : master).imr;
    }

    /** The vector base set by ICW2 (0x08 and 0x70 before initialization, as after a PC BIOS). */
    public synchronized int vectorBase(boolean ofSlave) {
        return (ofSlave ? slave : master).vectorBase;
    }

    @Override
    public synchronized PicState saveState() {
        return new PicState(master.save(), slave.save());
    }

    /** Restores both chips; INTR is driven to the level they imply. */
    @Override
    public synchronized void restoreState(PicState s) throws DeviceStateException {
        master.check(s.master());
        slave.check(s.slave());
        master.restore(s.master());
        slave.restore(s.slave());
        update();
    }

    @Override
    public Class<PicState> stateType() {
        return PicState.class;
    }

    /** Recomputes the cascade input and INTR; reports INTR changes. Called with the lock held. */
    private void update() {
        master.setCascade(slave.highestDeliverable() >= 0);
        boolean level = master.highestDeliverable() >= 0;
        if (level != intrLevel) {
            intrLevel = level;
            intr.set(level);
        }
    }

    private final class ChipPorts implements BusDevice {
        private final Chip chip;

        ChipPorts(Chip chip) {
            this.chip = chip;
        }

        @Override
        public long read(long offset, int size) {
            synchronized (I8259Pair.this) {
                int v = offset == 0 ? chip.readCommand() : chip.imr;
                update();
                return v;
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (I8259Pair.this) {
                if (offset == 0) {
                    chip.writeCommand((int) value & 0xFF);
                } else {
                    chip.writeData((int) value & 0xFF);
                }
                update();
            }
        }
    }

    /** One 8259A. Guarded by the pair's lock. */
    private final class Chip {
        final boolean isMaster;
        int irr;
        int isr;
        int imr;
        /** Input pin levels, for edge detection and level-mode IRR. */
        int pins;
        int elcr;
        int vectorBase;
        /** The IR with the highest priority (rotations move it); 0 after initialization. */
        int priorityBase;
        /** 0: initialized; 2, 3, 4: expecting ICW2, ICW3, ICW4. */
        int initStep;
        boolean needIcw4;
        boolean single;
        boolean levelTriggeredAll;
        boolean autoEoi;
        boolean rotateOnAutoEoi;
        boolean specialFullyNested;
        boolean specialMask;
        boolean readIsr;
        boolean poll;

        Chip(boolean isMaster) {
            this.isMaster = isMaster;
        }

        void reset() {
            irr = 0;
            isr = 0;
            imr = 0xFF;
            pins = 0;
            vectorBase = isMaster ? 0x08 : 0x70;
            priorityBase = 0;
            initStep = 0;
            needIcw4 = false;
            single = false;
            levelTriggeredAll = false;
            autoEoi = false;
            rotateOnAutoEoi = false;
            specialFullyNested = false;
            specialMask = false;
            readIsr = false;
            poll = false;
        }

        PicState.Chip save() {
            return new PicState.Chip(irr, isr, imr, pins, elcr, vectorBase, priorityBase, initStep, needIcw4, single,
                levelTriggeredAll, autoEoi, rotateOnAutoEoi, specialFullyNested, specialMask, readIsr, poll);
        }

        void check(PicState.Chip s) throws DeviceStateException {
            String chip = NAME + (isMaster ? " master" : " slave");
            DeviceStateException.checkRange(chip, "IRR", s.irr(), 0, 0xFF);
            DeviceStateException.checkRange(chip, "ISR", s.isr(), 0, 0xFF);
            DeviceStateException.checkRange(chip, "IMR", s.imr(), 0, 0xFF);
            DeviceStateException.checkRange(chip, "pin levels", s.pins(), 0, 0xFF);
            DeviceStateException.checkBits(chip, "ELCR", s.elcr(), isMaster ? ELCR_MASK_MASTER : ELCR_MASK_SLAVE);
            DeviceStateException.checkBits(chip, "vector base", s.vectorBase(), 0xF8);
            DeviceStateException.checkRange(chip, "priority base", s.priorityBase(), 0, 7);
            if (s.initStep() != 0 && (s.initStep() < 2 || s.initStep() > 4)) {
                throw new DeviceStateException(chip + ": initialization step " + s.initStep() + " is not 0, 2, 3 or 4");
            }
        }

        void restore(PicState.Chip s) {
            irr = s.irr();
            isr = s.isr();
            imr = s.imr();
            pins = s.pins();
            elcr = s.elcr();
            vectorBase = s.vectorBase();
            priorityBase = s.priorityBase();
            initStep = s.initStep();
            needIcw4 = s.needIcw4();
            single = s.single();
            levelTriggeredAll = s.levelTriggeredAll();
            autoEoi = s.autoEoi();
            rotateOnAutoEoi = s.rotateOnAutoEoi();
            specialFullyNested = s.specialFullyNested();
            specialMask = s.specialMask();
            readIsr = s.readIsr();
            poll = s.poll();
        }

        boolean isLevel(int n) {
            return levelTriggeredAll || (elcr & (1 << n)) != 0;
        }

        void setPin(int n, boolean level) {
            int bit = 1 << n;
            boolean was = (pins & bit) != 0;
            if (level) {
                pins |= bit;
                if (isLevel(n) || !was) {
                    irr |= bit; // edge: the rising edge latches the request; level: IRR follows the pin
                }
            } else {
                pins &= ~bit;
                if (isLevel(n)) {
                    irr &= ~bit;
                }
            }
        }

        /**
         * Master IR2 is wired to the slave's INT output and, as on the PC, edge-triggered: a slave
         * request that goes away after the master latched it ends as a spurious IRQ15.
         */
        void setCascade(boolean level) {
            if (level != ((pins & 4) != 0)) {
                setPin(2, level);
            }
        }

        void refreshLevels() {
            for (int n = 0; n < 8; n++) {
                if (isLevel(n)) {
                    irr = (pins & (1 << n)) != 0 ? irr | (1 << n) : irr & ~(1 << n);
                }
            }
        }

        /** Priority rank of {@code irq} (0 = highest), given the rotation. */
        int rank(int irq) {
            return (irq - priorityBase) & 7;
        }

        /** The IRQ of the highest-priority bit in {@code mask}, or -1. */
        int highest(int mask) {
            if (mask == 0) {
                return -1;
            }
            for (int i = 0; i < 8; i++) {
                int irq = (priorityBase + i) & 7;
                if ((mask & (1 << irq)) != 0) {
                    return irq;
                }
            }
            return -1;
        }

        /**
         * The request INT would deliver now: the highest unmasked IRR bit whose priority is above
         * every in-service level (fully nested mode). Special mask mode ignores ISR bits that are
         * masked; special fully nested mode (master) lets the cascade IR interrupt itself.
         */
        int highestDeliverable() {
            int irq = highest(irr & ~imr);
            if (irq < 0) {
                return -1;
            }
            int inService = isr;
            if (specialMask) {
                inService &= ~imr;
            }
            if (specialFullyNested && isMaster) {
                inService &= ~4;
            }
            int cur = highest(inService);
            if (cur >= 0 && rank(cur) <= rank(irq)) {
                if (!(specialFullyNested && isMaster && irq == 2 && cur == 2)) {
                    return -1;
                }
            }
            return irq;
        }

        void ack(int irq) {
            int bit = 1 << irq;
            if (!isLevel(irq)) {
                irr &= ~bit;
            }
            if (autoEoi) {
                if (rotateOnAutoEoi) {
                    priorityBase = (irq + 1) & 7;
                }
            } else {
                isr |= bit;
            }
        }

        int readCommand() {
            if (poll) {
                // OCW3 poll: the read acts as an acknowledge (data sheet, "The Poll Command").
                poll = false;
                int irq = highestDeliverable();
                if (irq < 0) {
                    return 0;
                }
                ack(irq);
                if (isMaster && irq == 2 && !single) {
                    int s = slave.highestDeliverable();
                    if (s >= 0) {
                        slave.ack(s);
                    }
                }
                return 0x80 | irq;
            }
            return readIsr ? isr : irr;
        }

        void writeCommand(int v) {
            if ((v & 0x10) != 0) {
                // ICW1: clears IMR and ISR, IR7 lowest priority, special mask off, read IRR
                // (data sheet, "Initialization Command Words"). The edge sense latch resets: an
                // edge-triggered line that is high must go low and high again.
                needIcw4 = (v & 0x01) != 0;
                single = (v & 0x02) != 0;
                levelTriggeredAll = (v & 0x08) != 0;
                imr = 0;
                isr = 0;
                irr = 0;
                refreshLevels();
                priorityBase = 0;
                specialMask = false;
                readIsr = false;
                poll = false;
                autoEoi = false;
                rotateOnAutoEoi = false;
                specialFullyNested = false;
                initStep = 2;
            } else if ((v & 0x08) != 0) {
                // OCW3
                if ((v & 0x04) != 0) {
                    poll = true;
                }
                if ((v & 0x02) != 0) {
                    readIsr = (v & 0x01) != 0;
                }
                if ((v & 0x40) != 0) {
                    specialMask = (v & 0x20) != 0;
                }
            } else {
                writeOcw2(v);
            }
        }

        /** OCW2: R, SL, EOI in bits 7-5, the IR level in bits 2-0. */
        private void writeOcw2(int v) {
            int level = v & 7;
            switch (v >> 5) {
                case 0b001 -> { // non-specific EOI
                    int irq = highest(specialMask ? isr & ~imr : isr);
                    if (irq >= 0) {
                        isr &= ~(1 << irq);
                    }
                }
                case 0b011 -> isr &= ~(1 << level); // specific EOI
                case 0b101 -> { // rotate on non-specific EOI
                    int irq = highest(isr);
                    if (irq >= 0) {
                        isr &= ~(1 << irq);
                        priorityBase = (irq + 1) & 7;
                    }
                }
                case 0b111 -> { // rotate on specific EOI
                    isr &= ~(1 << level);
                    priorityBase = (level + 1) & 7;
                }
                case 0b110 -> priorityBase = (level + 1) & 7; // set priority: level becomes lowest
                case 0b100 -> rotateOnAutoEoi = true;
                case 0b000 -> rotateOnAutoEoi = false;
                default -> {
                    // 0b010: no operation
                }
            }
        }

        void writeData(int v) {
            switch (initStep) {
                case 2 -> {
                    vectorBase = v & 0xF8;
                    initStep = single ? (needIcw4 ? 4 : 0) : 3;
                }
                case 3 -> initStep = needIcw4 ? 4 : 0; // ICW3: the cascade wiring is fixed on a PC
                case 4 -> {
                    autoEoi = (v & 0x02) != 0;
                    specialFullyNested = (v & 0x10) != 0;
                    initStep = 0;
                }
                default -> imr = v; // OCW1
            }
        }
    }
}
