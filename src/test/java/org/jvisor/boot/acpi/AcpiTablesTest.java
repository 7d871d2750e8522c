package org.jvisor.boot.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.acpi.AcpiPciHotplug;
import org.jvisor.devices.acpi.AcpiPm;
import org.jvisor.devices.acpi.Gpe0Block;
import org.jvisor.devices.acpi.ResetControl;
import org.jvisor.memory.GuestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Table layout, headers and checksums, parsed back as an OS would. */
class AcpiTablesTest {

    static AcpiTables full() {
        return new AcpiTables(4)
            .addVirtioMmio(0xFEB00000L, 0x200, 16)
            .addVirtioMmio(0xFEB00200L, 0x200, 17)
            .pciHost(new PciHost(0, 0, 255, 0xB000_0000L, 0xC000_0000L, 0x3E00_0000L,
                0x80_0000_0000L, 0x80_0000_0000L, PciHost.swizzledRoutes(4, 20)));
    }

    static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    static String sig(byte[] b, int at, int len) {
        return new String(b, at, len, StandardCharsets.US_ASCII);
    }

    @Test
    void everyTableSumsToZeroAndHasItsLength() {
        AcpiTables.Image img = full().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
        for (String s : List.of("DSDT", "FACP", "APIC", "MCFG", "XSDT", "RSDT")) {
            byte[] t = img.table(s);
            assertEquals(s, sig(t, 0, 4));
            assertEquals(t.length, le(t).getInt(4));
            assertEquals(0, SdtWriter.sum(t, 0, t.length), s + " checksum");
            assertEquals(SdtWriter.OEM_ID, sig(t, 10, 6));
            assertEquals(0, img.tables().get(s) % 16, s + " alignment");
        }
    }

    @Test
    void rsdpHasBothChecksumsAndPointsToTheXsdt() {
        AcpiTables.Image img = full().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
        byte[] r = img.table("RSDP");
        assertEquals(36, r.length);
        assertEquals("RSD PTR ", sig(r, 0, 8));
        assertEquals(0, SdtWriter.sum(r, 0, 20), "ACPI 1.0 checksum over 20 bytes");
        assertEquals(0, SdtWriter.sum(r, 0, 36), "extended checksum over 36 bytes");
        assertEquals(2, r[15]);
        assertEquals(36, le(r).getInt(20));
        assertEquals(img.tables().get("XSDT"), le(r).getLong(24));
        assertEquals(img.tables().get("RSDT"), (long) le(r).getInt(16));
        assertEquals(0, img.rsdpAddress() % 16);
    }

    @Test
    void xsdtAndRsdtListFadtMadtMcfg() {
        AcpiTables.Image img = full().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
        ByteBuffer x = le(img.table("XSDT"));
        ByteBuffer r = le(img.table("RSDT"));
        assertEquals(36 + 3 * 8, x.getInt(4));
        assertEquals(36 + 3 * 4, r.getInt(4));
        List<String> sigs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            long a = x.getLong(36 + 8 * i);
            assertEquals(a, r.getInt(36 + 4 * i));
            sigs.add(sig(img.table(a), 0, 4));
        }
        assertEquals(List.of("FACP", "APIC", "MCFG"), sigs);
    }

    @Test
    void withoutPciExpressThereIsNoMcfg() {
        AcpiTables.Image img = new AcpiTables(1).build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
        assertEquals(null, img.tables().get("MCFG"));
        assertEquals(36 + 2 * 8, le(img.table("XSDT")).getInt(4));
    }

    @Test
    void fadtDescribesThePmDevice() {
        AcpiTables.Image img = full().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
        byte[] f = img.table("FACP");
        ByteBuffer b = le(f);
        assertEquals(276, f.length);
        assertEquals(6, f[8]);
        assertEquals(5, f[131], "minor revision");
        assertEquals(img.tables().get("FACS"), (long) b.getInt(36));
        assertEquals(img.tables().get("DSDT"), (long) b.getInt(40));
        assertEquals(0, b.getLong(132), "X_FIRMWARE_CTRL must be 0 when FIRMWARE_CTRL is set");
        assertEquals(img.tables().get("DSDT"), b.getLong(140));
        assertEquals(AcpiPm.SCI_IRQ, b.getShort(46));
        assertEquals(0, b.getInt(48), "SMI_CMD 0: always in ACPI mode");
        assertEquals(AcpiPm.PM1A_EVT_PORT, b.getInt(56));
        assertEquals(AcpiPm.PM1A_CNT_PORT, b.getInt(64));
        assertEquals(AcpiPm.PM_TMR_PORT, b.getInt(76));
        assertEquals(4, f[88]);
        assertEquals(2, f[89]);
        assertEquals(4, f[91]);
        assertEquals(Fadt.BOOT_LEGACY_DEVICES | Fadt.BOOT_8042, b.getShort(109));
        int flags = b.getInt(112);
        assertEquals(Fadt.RESET_REG_SUP, flags & Fadt.RESET_REG_SUP);
        assertEquals(Fadt.TMR_VAL_EXT, flags & Fadt.TMR_VAL_EXT);
        assertEquals(0, flags & Fadt.HW_REDUCED_ACPI);
        assertEquals(0, flags & Fadt.PWR_BUTTON, "fixed power button");
        // RESET_REG: SystemIO, 8 bits, offset 0, byte access, port 0xCF9; value 6
        assertEquals(1, f[116]);
        assertEquals(8, f[117]);
        assertEquals(0, f[118]);
        assertEquals(1, f[119]);
        assertEquals(ResetControl.PORT, b.getLong(120));
        assertEquals(ResetControl.RESET_VALUE, f[128]);
        // X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK: SystemIO, width = length * 8
        assertEquals(1, f[148]);
        assertEquals(32, f[149]);
        assertEquals(AcpiPm.PM1A_EVT_PORT, b.getLong(152));
        assertEquals(16, f[173]);
        assertEquals(AcpiPm.PM1A_CNT_PORT, b.getLong(176));
        assertEquals(32, f[209]);
        assertEquals(AcpiPm.PM_TMR_PORT, b.getLong(212));
    }

    /** QEMU's pc: the PIIX4's PCI host with ACPI PCI hot-plug on every slot but 0 (host bridge) and 1 (PIIX3). */
    static AcpiTables pcWithHotplug() {
        return new AcpiTables(2)
            .pciHost(new PciHost(0, 0, 255, 0xE000_0000L, 0xC000_0000L, 0x2000_0000L,
                0x80_0000_0000L, 0x80_0000_0000L, PciHost.swizzledRoutes(32, 16)))
            .pciHotplug(AcpiPciHotplug.hotpluggableMask(java.util.Set.of(0, 1)));
    }

    @Test
    void fadtDescribesTheGpe0BlockWithPciHotplug() {
        byte[] f = pcWithHotplug().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE).table("FACP");
        ByteBuffer b = le(f);
        assertEquals(Gpe0Block.Chipset.PIIX4.port(), b.getInt(80), "GPE0_BLK");
        assertEquals(0, b.getInt(84), "GPE1_BLK");
        assertEquals(Gpe0Block.Chipset.PIIX4.length(), f[92], "GPE0_BLK_LEN");
        assertEquals(0, f[93], "GPE1_BLK_LEN");
        // X_GPE0_BLK: SystemIO, 32 bits (= GPE0_BLK_LEN * 8), offset 0, byte access, port 0xAFE0
        assertEquals(1, f[220]);
        assertEquals(32, f[221]);
        assertEquals(0, f[222]);
        assertEquals(1, f[223]);
        assertEquals(0xAFE0L, b.getLong(224));
        assertEquals(0, b.getLong(232), "X_GPE1_BLK");
        assertEquals(0, SdtWriter.sum(f, 0, f.length));
    }

    @Test
    void fadtHasNoGpeBlockWithoutPciHotplug() {
        byte[] f = full().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE).table("FACP");
        ByteBuffer b = le(f);
        assertEquals(0, b.getInt(80));
        assertEquals(0, f[92]);
        for (int i = 220; i < 232; i++) {
            assertEquals(0, f[i], "X_GPE0_BLK byte " + i);
        }
    }

    @Test
    void dsdtHasTheHotplugObjectsOnlyWithPciHotplug() {
        String with = ascii(pcWithHotplug().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE).table("DSDT"));
        for (String seg : List.of("PCST", "PCIU", "PCID", "SEJ_", "B0EJ", "BNMR", "BNUM", "PIDX", "BLCK", "PCEJ",
            "BSEL", "DVNT", "PCNT", "_GPE", "_E01", "S10_", "SF8_", "_SUN", "_EJ0")) {
            assertTrue(with.contains(seg), seg);
        }
        assertFalse(with.contains("S00_"), "the host bridge's slot is not hot-pluggable");
        assertFalse(with.contains("S08_"), "nor the PIIX3's");
        String without = ascii(full().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE).table("DSDT"));
        for (String seg : List.of("PCNT", "_GPE", "_E01", "B0EJ", "_EJ0")) {
            assertFalse(without.contains(seg), seg);
        }
        assertThrows(IllegalArgumentException.class, () -> new AcpiTables(1).pciHotplug(-2)
            .build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE), "hot-plug without a PCI host");
    }

    private static String ascii(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    @Test
    void fadtWithoutI8042AndWithManyCpus() {
        byte[] f = Fadt.build(0x1000, 0x2000, false, 16);
        ByteBuffer b = le(f);
        assertEquals(Fadt.BOOT_LEGACY_DEVICES, b.getShort(109));
        assertTrue((b.getInt(112) & Fadt.FORCE_APIC_PHYSICAL_DESTINATION_MODE) != 0);
        assertEquals(0, SdtWriter.sum(f, 0, f.length));
    }

    @Test
    void facsIs64ByteAlignedWithSignatureAndLength() {
        AcpiTables.Image img = full().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
        long facs = img.tables().get("FACS");
        assertEquals(0, facs % 64);
        int off = (int) (facs - img.base());
        assertEquals("FACS", sig(img.bytes(), off, 4));
        assertEquals(64, le(img.bytes()).getInt(off + 4));
    }

    record Entry(int type, byte[] body) {
    }

    static List<Entry> madtEntries(byte[] m) {
        List<Entry> list = new ArrayList<>();
        int at = 44;
        while (at < m.length) {
            int type = m[at] & 0xFF;
            int len = m[at + 1] & 0xFF;
            assertTrue(len >= 2 && at + len <= m.length, "entry length");
            byte[] body = new byte[len];
            System.arraycopy(m, at, body, 0, len);
            list.add(new Entry(type, body));
            at += len;
        }
        assertEquals(m.length, at);
        return list;
    }

    @Test
    void madtParsesBack() {
        byte[] m = Madt.build(3, AcpiPm.SCI_IRQ);
        assertEquals("APIC", sig(m, 0, 4));
        assertEquals(0, SdtWriter.sum(m, 0, m.length));
        assertEquals(0xFEE0_0000L, le(m).getInt(36) & 0xFFFF_FFFFL);
        assertEquals(Madt.PCAT_COMPAT, le(m).getInt(40));
        List<Entry> es = madtEntries(m);
        List<Entry> lapics = es.stream().filter(e -> e.type() == 0).toList();
        assertEquals(3, lapics.size());
        for (int i = 0; i < 3; i++) {
            byte[] e = lapics.get(i).body();
            assertEquals(8, e.length);
            assertEquals(i, e[2], "processor UID");
            assertEquals(i, e[3], "APIC ID");
            assertEquals(1, le(e).getInt(4), "enabled");
        }
        List<Entry> ioapics = es.stream().filter(e -> e.type() == 1).toList();
        assertEquals(1, ioapics.size());
        byte[] io = ioapics.get(0).body();
        assertEquals(12, io.length);
        assertEquals(Madt.IOAPIC_ID, io[2]);
        assertEquals(0xFEC0_0000L, le(io).getInt(4) & 0xFFFF_FFFFL);
        assertEquals(0, le(io).getInt(8));
        List<Entry> isos = es.stream().filter(e -> e.type() == 2).toList();
        assertEquals(2, isos.size());
        byte[] irq0 = isos.get(0).body();
        assertEquals(0, irq0[2]);
        assertEquals(0, irq0[3]);
        assertEquals(2, le(irq0).getInt(4));
        assertEquals(0x0005, le(irq0).getShort(8), "edge, active high");
        byte[] sci = isos.get(1).body();
        assertEquals(9, sci[3]);
        assertEquals(9, le(sci).getInt(4));
        assertEquals(0x000D, le(sci).getShort(8), "level, active high");
        List<Entry> nmis = es.stream().filter(e -> e.type() == 4).toList();
        assertEquals(1, nmis.size());
        assertEquals((byte) 0xFF, nmis.get(0).body()[2]);
        assertEquals(1, nmis.get(0).body()[5], "LINT1");
    }

    @Test
    void madtLimits() {
        assertThrows(IllegalArgumentException.class, () -> Madt.build(0, 9));
        assertThrows(IllegalArgumentException.class, () -> Madt.build(256, 9));
        assertEquals(44 + 255 * 8 + 12 + 20 + 6, Madt.build(255, 9).length);
    }

    @Test
    void mcfgEntry() {
        byte[] t = Mcfg.build(0xB000_0000L, 0, 0, 255);
        ByteBuffer b = le(t);
        assertEquals(60, t.length);
        assertEquals(0xB000_0000L, b.getLong(44));
        assertEquals(0, b.getShort(52));
        assertEquals(0, t[54]);
        assertEquals((byte) 255, t[55]);
        assertEquals(256L << 20, Mcfg.ecamSize(0, 255));
    }

    @Test
    void dsdtHeader() {
        byte[] d = Dsdt.build(full().dsdtConfig());
        assertEquals("DSDT", sig(d, 0, 4));
        assertEquals(2, d[8], "revision 2: 64-bit integers");
        assertEquals(0, SdtWriter.sum(d, 0, d.length));
        // The body starts with Name (\_S5, Package {5, 0, 0, 0})
        assertEquals(0x08, d[36]);
        assertEquals(0x5C, d[37]);
        assertEquals("_S5_", sig(d, 38, 4));
        assertEquals(AcpiPm.SLP_TYP_S5, d[42 + 4]); // PackageOp, PkgLength, NumElements, BytePrefix, 5
    }

    @Test
    void writesIntoGuestMemoryWhereLinuxScansForTheRsdp() {
        try (GuestMemory mem = GuestMemory.allocate(2 << 20)) {
            AcpiTables.Placement p = full().writeTo(mem);
            assertEquals(AcpiTables.DEFAULT_BASE, p.start());
            assertTrue(p.length() > 0 && p.start() + p.length() <= 0x10_0000L);
            // Scan the BIOS area on 16-byte boundaries, as Linux's acpi_find_root_pointer does.
            Long found = null;
            byte[] cand = new byte[36];
            for (long a = 0xE_0000L; a < 0x10_0000L; a += 16) {
                mem.read(a, cand, 0, 8);
                if (sig(cand, 0, 8).equals("RSD PTR ")) {
                    mem.read(a, cand, 0, 36);
                    if (SdtWriter.sum(cand, 0, 20) == 0 && SdtWriter.sum(cand, 0, 36) == 0) {
                        found = a;
                        break;
                    }
                }
            }
            assertNotNull(found);
            assertEquals(p.rsdpAddress(), found.longValue());
            long xsdt = mem.readU64(found + 24);
            assertTrue(xsdt >= p.start() && xsdt < p.start() + p.length());
            byte[] x = new byte[4];
            mem.read(xsdt, x, 0, 4);
            assertEquals("XSDT", sig(x, 0, 4));
            long fadt = mem.readU64(xsdt + 36);
            long dsdt = mem.readU64(fadt + 140);
            mem.read(dsdt, x, 0, 4);
            assertEquals("DSDT", sig(x, 0, 4));
        }
    }

    @Test
    void windowTooSmallOrMisplaced() {
        assertThrows(IllegalArgumentException.class, () -> full().build(0xE0000, 256));
        assertThrows(IllegalArgumentException.class, () -> full().build(0xE0008, 0x20000));
        assertThrows(IllegalArgumentException.class, () -> new AcpiTables(0));
        assertThrows(IllegalArgumentException.class, () -> new AcpiTables(1).addVirtioMmio(0xFFFF_FF00L, 0x200, 16));
        assertThrows(IllegalArgumentException.class, () -> new AcpiTables(1).addVirtioMmio(0xFEB00000L, 0x200, 16)
            .addVirtioMmio(0xFEB001F0L, 0x200, 17));
    }

    @Test
    void virtioDevicesAreKeptInOrder() {
        AcpiTables t = full();
        assertEquals(List.of(new VirtioMmioDevice(0xFEB00000L, 0x200, 16), new VirtioMmioDevice(0xFEB00200L, 0x200, 17)),
            t.virtioMmioDevices());
    }
}
