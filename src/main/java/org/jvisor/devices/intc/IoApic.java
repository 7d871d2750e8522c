package org.jvisor.devices.intc;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.devices.intc.ApicBus.DeliveryMode;
import org.jvisor.devices.intc.ApicBus.DestMode;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * The I/O APIC (Intel 82093AA data sheet, order 290566): an indirect register window at
 * 0xFEC00000 (IOREGSEL at +0x00, IOWIN at +0x10), ID/version/arbitration registers and 24
 * redirection entries that turn pin levels into interrupt messages on an {@link ApicBus}. As in
 * version 0x20 parts (ICH and later), a directed EOI register at +0x40 clears remote IRR by vector.
 *
 * <p>Pins take the logical "asserted" level: polarity (bit 13) is stored and reported but not
 * applied, since the wiring (ACPI/MP tables) and the device's IrqLine already agree on the meaning
 * of assertion. An edge that arrives while its pin is masked is remembered and delivered on
 * unmask, as KVM and QEMU do.
 */
public final class IoApic implements BusDevice, StatefulDevice<IoApicState> {
    public static final long DEFAULT_BASE = 0xFEC0_0000L;
    public static final int PINS = 24;
    public static final int VERSION = 0x20;
    private static final String NAME = "IOAPIC";
    /** The pins as a bit mask. */
    private static final long PIN_MASK = (1L << PINS) - 1;

    private static final int REG_ID = 0x00, REG_VER = 0x01, REG_ARB = 0x02, REG_TABLE = 0x10;
    private static final long RTE_MASKED = 1L << 16;
    private static final long RTE_REMOTE_IRR = 1L << 14;
    private static final long RTE_DELIVERY_STATUS = 1L << 12;
    private static final long RTE_LEVEL = 1L << 15;
    /** Bit 48: the entry is in remappable format (VT-d 5.1.5.1): index 63:49 and 11, no destination. */
    private static final long RTE_REMAPPABLE = 1L << 48;
    /** Bits the guest can write: everything but delivery status and remote IRR (read-only). */
    private static final long RTE_WRITABLE = ~(RTE_REMOTE_IRR | RTE_DELIVERY_STATUS);

    private final ApicBus bus;
    private final long[] table = new long[PINS];
    private int id;
    private int ioregsel;
    /** Current pin levels. */
    private int levels;
    /** Edges (or held levels) not yet delivered. */
    private int irr;
    private long deliveries;
    /** The interrupt remapping unit remappable-format entries go through, or null (they are then not delivered). */
    private volatile InterruptRemapper remapper;
    private int remapperSourceId;

    public IoApic(int id, ApicBus bus) {
        this.bus = bus;
        this.id = id;
        reset();
    }

    /**
     * Sends remappable-format entries to {@code remapper} as the interrupt requests VT-d 5.1.5.1
     * describes, from {@code sourceId} (the IOAPIC's id in the DMAR's scope).
     */
    public synchronized void setRemapper(InterruptRemapper remapper, int sourceId) {
        this.remapper = remapper;
        this.remapperSourceId = sourceId;
    }

    public synchronized void reset() {
        for (int i = 0; i < PINS; i++) {
            table[i] = RTE_MASKED;
        }
        ioregsel = 0;
        levels = 0;
        irr = 0;
    }

    /**
     * IOREGSEL and IOWIN are 32-bit registers (82093AA, 3.1); a narrower read gets its byte lanes
     * of them and nothing beyond its size.
     */
    @Override
    public synchronized long read(long offset, int size) {
        long v;
        if ((offset & ~3) == 0x00) {
            v = ioregsel;
        } else if ((offset & ~3) == 0x10) {
            v = readRegister(ioregsel) & 0xFFFF_FFFFL;
        } else {
            return 0;
        }
        v >>>= (offset & 3) * 8;
        return size >= 4 ? v : v & ((1L << (size * 8)) - 1);
    }

    /** IOWIN takes only 32-bit writes, as in QEMU (a narrower one would zero the rest of the register). */
    @Override
    public synchronized void write(long offset, int size, long value) {
        if (offset == 0x00) {
            ioregsel = (int) value & 0xFF;
        } else if (offset == 0x10) {
            if (size != 4) {
                return;
            }
            writeRegister(ioregsel, (int) value);
        } else if (offset == 0x40) {
            eoi((int) value & 0xFF);
        }
    }

    private int readRegister(int reg) {
        switch (reg) {
            case REG_ID:
                return id << 24;
            case REG_VER:
                return (PINS - 1) << 16 | VERSION; // maximum redirection entry, version
            case REG_ARB:
                return id << 24;
            default:
                if (reg >= REG_TABLE && reg < REG_TABLE + 2 * PINS) {
                    long e = table[(reg - REG_TABLE) >> 1];
                    return (reg & 1) == 0 ? (int) e : (int) (e >>> 32);
                }
                return 0;
        }
    }

    private void writeRegister(int reg, int v) {
        if (reg == REG_ID) {
            id = (v >>> 24) & 0xF;
            return;
        }
        if (reg < REG_TABLE || reg >= REG_TABLE + 2 * PINS) {
            return; // VER and ARB are read-only
        }
        int pin = (reg - REG_TABLE) >> 1;
        long old = table[pin];
        long e;
        if ((reg & 1) == 0) {
            e = (old & 0xFFFF_FFFF_0000_0000L) | (v & 0xFFFF_FFFFL);
        } else {
            e = (old & 0xFFFF_FFFFL) | ((long) v << 32);
        }
        e = (e & RTE_WRITABLE) | (old & (RTE_REMOTE_IRR | RTE_DELIVERY_STATUS));
        if ((e & RTE_LEVEL) == 0) {
            e &= ~RTE_REMOTE_IRR; // remote IRR is meaningless for edge entries
        }
        table[pin] = e;
        if ((e & RTE_LEVEL) != 0 && (levels & (1 << pin)) != 0) {
            irr |= 1 << pin; // a level pin held high is pending again
        }
        service(pin);
    }

    /** The input wire of pin {@code pin} (GSI {@code pin} on the first IOAPIC). */
    public IrqLine pin(int pin) {
        if (pin < 0 || pin >= PINS) {
            throw new IllegalArgumentException("IOAPIC pin " + pin);
        }
        return level -> setIrq(pin, level);
    }

    public synchronized void setIrq(int pin, boolean level) {
        int bit = 1 << pin;
        boolean was = (levels & bit) != 0;
        long e = table[pin];
        if (level) {
            levels |= bit;
            if ((e & RTE_LEVEL) != 0 || !was) {
                irr |= bit;
                service(pin);
            }
        } else {
            levels &= ~bit;
            if ((e & RTE_LEVEL) != 0) {
                irr &= ~bit;
            }
        }
    }

    /** Sends pin's message if it is pending, unmasked and (level) not awaiting an EOI. Lock held. */
    private void service(int pin) {
        int bit = 1 << pin;
        if ((irr & bit) == 0) {
            return;
        }
        long e = table[pin];
        if ((e & RTE_MASKED) != 0) {
            return;
        }
        boolean levelTriggered = (e & RTE_LEVEL) != 0;
        if (levelTriggered) {
            if ((e & RTE_REMOTE_IRR) != 0) {
                return;
            }
            table[pin] = e | RTE_REMOTE_IRR; // set when a LAPIC accepts it; cleared by the EOI
        } else {
            irr &= ~bit;
        }
        if ((e & RTE_REMAPPABLE) != 0) {
            InterruptRemapper r = remapper;
            if (r != null) {
                // The request the IOAPIC writes: handle in address 19:5 and 2, format bit 4; the
                // entry's vector and trigger mode in the data (the IRTE decides the delivery).
                int index = (int) (e >>> 49) & 0x7FFF | (int) (e >>> 11 & 1) << 15;
                long address = 0xFEE0_0000L | (long) (index & 0x7FFF) << 5 | 1L << 4 | (long) (index >>> 15) << 2;
                int data = (int) e & 0xFF | (levelTriggered ? 0x8000 : 0) | 0x4000;
                deliveries++;
                r.request(remapperSourceId, address, data);
            }
            return;
        }
        DeliveryMode dm = DeliveryMode.of((int) (e >> 8));
        if (dm == null) {
            return;
        }
        deliveries++;
        int vector = (int) e & 0xFF;
        int dest = (int) (e >>> 56);
        bus.deliver(dest, DestMode.of((e & (1L << 11)) != 0), dm, vector, true, levelTriggered);
    }

    /**
     * The EOI of a level-triggered vector, broadcast by a LAPIC (or written to the EOI register):
     * clears remote IRR of every entry with that vector and re-sends those whose pin is still high.
     */
    public synchronized void eoi(int vector) {
        for (int pin = 0; pin < PINS; pin++) {
            long e = table[pin];
            if ((e & 0xFF) == vector && (e & RTE_REMOTE_IRR) != 0) {
                table[pin] = e & ~RTE_REMOTE_IRR;
                if ((levels & (1 << pin)) != 0 && (e & RTE_LEVEL) != 0) {
                    irr |= 1 << pin;
                    service(pin);
                }
            }
        }
    }

    @Override
    public synchronized IoApicState saveState() {
        List<Long> entries = new ArrayList<>(PINS);
        for (long e : table) {
            entries.add(e);
        }
        return new IoApicState(id, ioregsel, entries, levels, irr);
    }

    @Override
    public synchronized void restoreState(IoApicState s) throws DeviceStateException {
        DeviceStateException.checkRange(NAME, "ID", s.id(), 0, 0xF);
        DeviceStateException.checkRange(NAME, "IOREGSEL", s.ioregsel(), 0, 0xFF);
        DeviceStateException.checkLength(NAME, "redirection entries", s.redirectionEntries().size(), PINS);
        DeviceStateException.checkBits(NAME, "pin levels", s.pinLevels() & 0xFFFF_FFFFL, PIN_MASK);
        DeviceStateException.checkBits(NAME, "pending requests", s.irr() & 0xFFFF_FFFFL, PIN_MASK);
        id = s.id();
        ioregsel = s.ioregsel();
        for (int i = 0; i < PINS; i++) {
            table[i] = s.redirectionEntries().get(i);
        }
        levels = s.pinLevels();
        irr = s.irr();
    }

    @Override
    public Class<IoApicState> stateType() {
        return IoApicState.class;
    }

    public synchronized long redirectionEntry(int pin) {
        return table[pin];
    }

    public synchronized int id() {
        return id;
    }

    /** Messages sent so far. */
    public synchronized long deliveries() {
        return deliveries;
    }
}
