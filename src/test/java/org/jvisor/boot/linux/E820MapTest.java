package org.jvisor.boot.linux;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.boot.BootException;
import org.jvisor.memory.GuestMemory.RamRange;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvisor.boot.linux.E820Map.Type.ACPI;
import static org.jvisor.boot.linux.E820Map.Type.NVS;
import static org.jvisor.boot.linux.E820Map.Type.RAM;
import static org.jvisor.boot.linux.E820Map.Type.RESERVED;

class E820MapTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    private static E820Map.Entry e(long addr, long end, E820Map.Type t) {
        return new E820Map.Entry(addr, end - addr, t);
    }

    /**
     * Found by KernelLoaderFuzzTest: a vmlinux segment at 0x7e617a7a7a7a7a7a whose size made the
     * end wrap past 2^63 was "usable", and loading it failed outside RAM instead of with the
     * loader's message.
     */
    @Test
    void rangesWhoseEndWrapsAreNotUsable() throws BootException {
        E820Map m = E820Map.build(List.of(new RamRange(0, 64 * MIB, 0)), List.of());
        assertFalse(m.isUsable(0x7e617a7a7a7a7a7aL, 0x0200_0000_0000_0000L));
        assertFalse(m.isUsable(MIB, Long.MAX_VALUE));
        assertFalse(m.isUsable(MIB, -1));
        assertTrue(m.isUsable(MIB, MIB));
    }

    @Test
    void smallGuestHasLowRamTheBiosAreaAndHighRam() throws BootException {
        E820Map m = E820Map.build(List.of(new RamRange(0, 64 * MIB, 0)), List.of());
        assertEquals(List.of(e(0, 0x9FC00, RAM), e(0x9FC00, 0x100000, RESERVED), e(0x100000, 64 * MIB, RAM)), m.entries());
    }

    @Test
    void nothingOfThePciHoleAppears() throws BootException {
        E820Map m = E820Map.build(List.of(new RamRange(0, 3 * GIB, 0), new RamRange(4 * GIB, 2 * GIB, 3 * GIB)), List.of());
        assertEquals(List.of(e(0, 0x9FC00, RAM), e(0x9FC00, 0x100000, RESERVED), e(0x100000, 3 * GIB, RAM),
            e(4 * GIB, 6 * GIB, RAM)), m.entries());
        assertFalse(m.isUsable(3 * GIB, 1));
        assertTrue(m.isUsable(4 * GIB, GIB));
        assertFalse(m.isUsable(3 * GIB - 4096, 8192));
    }

    @Test
    void reservedRangesAreCarvedOutOfRamAndListedOutsideIt() throws BootException {
        List<ReservedRange> r = List.of(
            new ReservedRange(32 * MIB, MIB, ACPI, "ACPI tables"),
            new ReservedRange(0xE000_0000L, 256 * MIB, RESERVED, "PCIe ECAM"));
        E820Map m = E820Map.build(List.of(new RamRange(0, 64 * MIB, 0)), r);
        assertEquals(List.of(e(0, 0x9FC00, RAM), e(0x9FC00, 0x100000, RESERVED), e(0x100000, 32 * MIB, RAM),
            e(32 * MIB, 33 * MIB, ACPI), e(33 * MIB, 64 * MIB, RAM), e(0xE000_0000L, 0xF000_0000L, RESERVED)), m.entries());
        assertFalse(m.isUsable(32 * MIB - 4096, 8192));
        assertEquals(List.of(e(32 * MIB, 33 * MIB, ACPI)), m.reservedOverlapping(31 * MIB, 4 * MIB));
        assertEquals(e(33 * MIB, 64 * MIB, RAM), m.usableAt(40 * MIB));
    }

    @Test
    void aCallersRangeInsideTheBiosAreaKeepsItsType() throws BootException {
        E820Map m = E820Map.build(List.of(new RamRange(0, 16 * MIB, 0)),
            List.of(new ReservedRange(0xE0000, 0x10000, ACPI, "ACPI tables")));
        assertEquals(List.of(e(0, 0x9FC00, RAM), e(0x9FC00, 0xE0000, RESERVED), e(0xE0000, 0xF0000, ACPI),
            e(0xF0000, 0x100000, RESERVED), e(0x100000, 16 * MIB, RAM)), m.entries());
    }

    @Test
    void adjacentRangesOfOneTypeMerge() throws BootException {
        E820Map m = E820Map.build(List.of(new RamRange(0, 16 * MIB, 0)), List.of(
            new ReservedRange(4 * MIB, MIB, NVS, "a"), new ReservedRange(5 * MIB, MIB, NVS, "b")));
        assertTrue(m.entries().contains(e(4 * MIB, 6 * MIB, NVS)), m.toString());
    }

    @Test
    void overlappingRangesOfDifferentTypesAreRefused() {
        BootException ex = assertThrows(BootException.class, () -> E820Map.build(List.of(new RamRange(0, 16 * MIB, 0)),
            List.of(new ReservedRange(4 * MIB, 2 * MIB, NVS, "NVS"), new ReservedRange(5 * MIB, MIB, ACPI, "ACPI tables"))));
        assertTrue(ex.getMessage().contains("NVS") && ex.getMessage().contains("ACPI tables") && ex.getMessage().contains("overlap"),
            ex.getMessage());
    }

    @Test
    void moreThan128EntriesAreRefused() {
        List<ReservedRange> many = new ArrayList<>();
        for (int i = 0; i < 70; i++) {
            many.add(new ReservedRange(2 * MIB + i * 2 * MIB, MIB, RESERVED, "r" + i));
        }
        BootException ex = assertThrows(BootException.class,
            () -> E820Map.build(List.of(new RamRange(0, 512 * MIB, 0)), many));
        assertTrue(ex.getMessage().contains("at most 128"), ex.getMessage());
    }

    @Test
    void badReservedRangesAreProgrammingErrors() {
        assertThrows(IllegalArgumentException.class, () -> new ReservedRange(0, 0, RESERVED, "empty"));
        assertThrows(IllegalArgumentException.class, () -> new ReservedRange(0, 4096, RAM, "ram"));
    }
}
