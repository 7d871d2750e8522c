package org.jvisor.devices.intc;

/**
 * The interrupt messages between IOAPICs, MSI writers and local APICs (the "system bus" of SDM
 * vol. 3, 10.1 / 10.6). An implementation ({@link ApicRouter}) knows every LAPIC and IOAPIC of a
 * machine; senders only describe the message.
 */
public interface ApicBus {

    /** Destination mode (SDM 10.6.2.1 physical, 10.6.2.2 logical). */
    enum DestMode {
        PHYSICAL, LOGICAL;

        public static DestMode of(boolean logical) {
            return logical ? LOGICAL : PHYSICAL;
        }
    }

    /** Delivery mode, with its 3-bit encoding in ICR/LVT/redirection entries/MSI data (SDM 10.6.1). */
    enum DeliveryMode {
        FIXED(0), LOWEST_PRIORITY(1), SMI(2), NMI(4), INIT(5), STARTUP(6), EXTINT(7);

        public final int code;
        private static final DeliveryMode[] BY_CODE = {FIXED, LOWEST_PRIORITY, SMI, null, NMI, INIT, STARTUP, EXTINT};

        DeliveryMode(int code) {
            this.code = code;
        }

        /** The mode of a 3-bit code, or null for the reserved code 3. */
        public static DeliveryMode of(int code) {
            return BY_CODE[code & 7];
        }
    }

    /** xAPIC physical broadcast (and 0xFFFFFFFF in x2APIC mode). */
    int BROADCAST = 0xFF;

    /**
     * Delivers one interrupt message to every LAPIC the destination selects ({@link #BROADCAST} in
     * physical mode addresses all). {@code level} is the message's level bit (INIT de-assert has it
     * clear); {@code levelTriggered} selects the trigger mode (sets the TMR bit for fixed vectors).
     */
    void deliver(int destination, DestMode destMode, DeliveryMode deliveryMode, int vector,
                 boolean level, boolean levelTriggered);

    /** Delivers to every LAPIC except {@code exclude} (null: all of them): the ICR shorthands. */
    void deliverToAll(LocalApic exclude, DeliveryMode deliveryMode, int vector, boolean level, boolean levelTriggered);

    /** A LAPIC's EOI for a level-triggered vector, broadcast to the IOAPICs (SDM 10.8.5). */
    void eoi(int vector);

    /**
     * A message-signalled interrupt: a DWORD write of {@code data} to {@code address} in
     * 0xFEExxxxx (SDM 10.11: address bits 19:12 destination ID, bit 3 redirection hint, bit 2
     * destination mode; data bits 7:0 vector, 10:8 delivery mode, 14 level, 15 trigger mode).
     * The redirection hint selects lowest-priority arbitration among the logical destinations.
     * Address bits 63:40 are destination bits 31:8, as in KVM's X2APIC_API: how an interrupt
     * remapping unit in x2APIC mode hands on a 32-bit x2APIC destination; zero in a device's own
     * message, which names an 8-bit xAPIC destination.
     */
    default void deliverMsi(long address, int data) {
        if ((address & 0xFFF0_0000L) != 0xFEE0_0000L) {
            return; // not an interrupt message (an IOMMU remaps before this point)
        }
        int dest = (int) (address >>> 12) & 0xFF | (int) (address >>> 32) & 0xFFFF_FF00;
        boolean logical = (address & 0x4) != 0;
        DeliveryMode dm = DeliveryMode.of(data >> 8);
        if (dm == null) {
            return;
        }
        boolean levelTriggered = (data & 0x8000) != 0;
        boolean level = !levelTriggered || (data & 0x4000) != 0;
        deliver(dest, DestMode.of(logical), dm, data & 0xFF, level, levelTriggered);
    }
}
