package org.jvisor.devices.intc;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.jvisor.devices.intc.ApicBus.DeliveryMode;
import org.jvisor.devices.intc.ApicBus.DestMode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IoApicTest {
    record Message(int dest, DestMode destMode, DeliveryMode mode, int vector, boolean level, boolean levelTriggered) {
    }

    private final List<Message> sent = new ArrayList<>();
    private final List<Long> msis = new ArrayList<>();
    private IoApic ioapic;

    @BeforeEach
    void setUp() {
        ApicBus bus = new ApicBus() {
            @Override
            public void deliver(int destination, DestMode destMode, DeliveryMode deliveryMode, int vector,
                                boolean level, boolean levelTriggered) {
                sent.add(new Message(destination, destMode, deliveryMode, vector, level, levelTriggered));
            }

            @Override
            public void deliverToAll(LocalApic exclude, DeliveryMode deliveryMode, int vector, boolean level,
                                     boolean levelTriggered) {
            }

            @Override
            public void eoi(int vector) {
            }
        };
        ioapic = new IoApic(0, bus);
    }

    private int readReg(int reg) {
        ioapic.write(0x00, 4, reg);
        return (int) ioapic.read(0x10, 4);
    }

    private void writeReg(int reg, int v) {
        ioapic.write(0x00, 4, reg);
        ioapic.write(0x10, 4, v);
    }

    private void route(int pin, long entry) {
        writeReg(0x10 + 2 * pin + 1, (int) (entry >>> 32));
        writeReg(0x10 + 2 * pin, (int) entry);
    }

    /**
     * A remappable-format entry (VT-d 5.1.5.1: bit 48, index 63:49 and 11) goes to the remapping
     * unit as the request the IOAPIC writes: handle in address 19:5 and 2, format bit 4; the
     * entry's vector and trigger mode in the data. Level entries still wait for the EOI.
     */
    @Test
    void remappableEntriesGoToTheRemappingUnit() {
        List<String> requests = new ArrayList<>();
        ioapic.setRemapper((sid, address, data) -> requests.add(String.format("%x %x %x", sid, address, data)), 0xFF00);
        route(3, 0x8001L << 49 | 1L << 48 | 1L << 11 | 0x41);              // index 0x18001 & 0xFFFF, edge
        ioapic.setIrq(3, true);
        assertEquals(List.of("ff00 fee00034 4041"), requests, "handle 0x8001: bit 15 in address bit 2");
        assertTrue(sent.isEmpty(), "nothing delivered directly");
        route(4, 5L << 49 | 1L << 48 | 1L << 15 | 0x42);                  // index 5, level
        ioapic.setIrq(4, true);
        ioapic.setIrq(4, false);
        ioapic.setIrq(4, true);
        assertEquals("ff00 fee000b0 c042", requests.get(1));
        assertEquals(2, requests.size(), "remote IRR holds the level entry until its EOI");
        ioapic.eoi(0x42);
        assertEquals(3, requests.size(), "re-sent after the EOI while the pin is high");
    }

    /** Found by ApicFuzzTest: a byte read of IOWIN returned the whole 32-bit register. */
    @Test
    void narrowReadsGetTheirByteLanesOnly() {
        ioapic.write(0x00, 4, 0x01);                     // VER: 0x00170020
        assertEquals(0x20, ioapic.read(0x10, 1));
        assertEquals(0x17, ioapic.read(0x12, 1));
        assertEquals(0x0017, ioapic.read(0x12, 2));
        assertEquals(0x01, ioapic.read(0x00, 1));        // IOREGSEL reads back
        assertEquals(0, ioapic.read(0x01, 1));
    }

    /** As QEMU: a narrow IOWIN write is dropped rather than zeroing the rest of the register. */
    @Test
    void narrowWindowWritesAreIgnored() {
        route(3, 0x0000_0000_0001_0031L);                // masked, vector 0x31
        ioapic.write(0x00, 4, 0x10 + 2 * 3);
        ioapic.write(0x10, 1, 0x45);
        ioapic.write(0x10, 2, 0x45);
        assertEquals(0x0001_0031L, ioapic.redirectionEntry(3));
    }

    @Test
    void identificationRegisters() {
        assertEquals(0x0017_0020, readReg(0x01), "24 entries, version 0x20");
        writeReg(0x00, 0x0200_0000);
        assertEquals(0x0200_0000, readReg(0x00));
        assertEquals(0x0200_0000, readReg(0x02));
        assertEquals(0x0001_0000, readReg(0x10), "entries come up masked");
        assertEquals(0x10, ioapic.read(0x00, 4) & 0xFF, "IOREGSEL reads back");
    }

    @Test
    void edgeEntrySendsOneMessagePerRisingEdge() {
        route(4, 0x0100_0000_0000_0034L); // dest 1, physical, fixed, edge, vector 0x34
        ioapic.pin(4).set(true);
        ioapic.pin(4).set(true);
        ioapic.pin(4).set(false);
        assertEquals(List.of(new Message(1, DestMode.PHYSICAL, DeliveryMode.FIXED, 0x34, true, false)), sent);
        ioapic.pin(4).pulse();
        assertEquals(2, sent.size());
    }

    @Test
    void edgeWhileMaskedIsDeliveredOnUnmask() {
        route(1, 0x0000_0000_0001_0031L); // masked
        ioapic.pin(1).pulse();
        assertTrue(sent.isEmpty());
        route(1, 0x0000_0000_0000_0031L);
        assertEquals(1, sent.size());
    }

    @Test
    void levelEntryWaitsForEoiAndResendsWhileAsserted() {
        route(16, 0x0000_0000_0000_8951L); // level, logical, lowest priority, vector 0x51
        ioapic.pin(16).set(true);
        assertEquals(List.of(new Message(0, DestMode.LOGICAL, DeliveryMode.LOWEST_PRIORITY, 0x51, true, true)), sent);
        assertEquals(1 << 14, readReg(0x10 + 32) & (1 << 14), "remote IRR set");
        ioapic.pin(16).set(true);
        assertEquals(1, sent.size(), "no new message before the EOI");
        writeReg(0x10 + 32, 0x0000_8951 & ~(1 << 14)); // rewriting the entry keeps remote IRR
        assertEquals(1 << 14, readReg(0x10 + 32) & (1 << 14));
        ioapic.eoi(0x51);
        assertEquals(2, sent.size(), "still asserted: sent again");
        ioapic.pin(16).set(false);
        ioapic.eoi(0x51);
        assertEquals(0, readReg(0x10 + 32) & (1 << 14));
        assertEquals(2, sent.size());
        ioapic.eoi(0x51);
        assertEquals(2, sent.size());
    }

    @Test
    void eoiRegisterClearsRemoteIrr() {
        route(9, 0x0000_0000_0000_8039L);
        ioapic.pin(9).set(true);
        ioapic.write(0x40, 4, 0x39);
        assertEquals(2, sent.size());
    }

    @Test
    void maskedLevelIsSentWhenUnmasked() {
        route(11, 0x0000_0000_0001_803BL);
        ioapic.pin(11).set(true);
        assertTrue(sent.isEmpty());
        route(11, 0x0000_0000_0000_803BL);
        assertEquals(1, sent.size());
    }

    @Test
    void deliveryModesPassThrough() {
        route(2, 0x0000_0000_0000_0700L); // ExtINT
        route(3, 0xFF00_0000_0000_0400L); // NMI broadcast
        ioapic.pin(2).pulse();
        ioapic.pin(3).pulse();
        assertEquals(DeliveryMode.EXTINT, sent.get(0).mode());
        assertEquals(new Message(0xFF, DestMode.PHYSICAL, DeliveryMode.NMI, 0, true, false), sent.get(1));
    }

    @Test
    void msiDecodesAddressAndData() {
        ApicBus bus = new ApicBus() {
            @Override
            public void deliver(int destination, DestMode destMode, DeliveryMode deliveryMode, int vector,
                                boolean level, boolean levelTriggered) {
                sent.add(new Message(destination, destMode, deliveryMode, vector, level, levelTriggered));
            }

            @Override
            public void deliverToAll(LocalApic exclude, DeliveryMode deliveryMode, int vector, boolean level,
                                     boolean levelTriggered) {
            }

            @Override
            public void eoi(int vector) {
            }
        };
        bus.deliverMsi(0xFEE0_3000L, 0x0041);
        bus.deliverMsi(0xFEE0_100CL, 0x0142);
        bus.deliverMsi(0x1234_0000L, 0x0043); // not an interrupt address
        assertEquals(List.of(new Message(3, DestMode.PHYSICAL, DeliveryMode.FIXED, 0x41, true, false),
            new Message(1, DestMode.LOGICAL, DeliveryMode.LOWEST_PRIORITY, 0x42, true, false)), sent);
        assertTrue(msis.isEmpty());
    }
}
