package org.jvisor.boot.acpi;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.jvisor.testing.RequiredTools;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real check: ACPICA's own tools (Debian package acpica-tools) read what we generate. iasl
 * disassembles every table, recompiles the disassembled DSDT, and compiles reference ASL that
 * must give the same AML bytes as the {@link AmlWriter}; acpiexec loads the tables into the
 * ACPICA interpreter (the code Linux runs) and evaluates objects. Skipped, with the reason, where
 * the tools are not installed.
 */
class IaslTest {

    private static Path iasl;
    private static Path acpiexec;

    @TempDir
    Path dir;

    static Path tool(String name) {
        for (String p : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path c = Path.of(p, name);
            if (Files.isExecutable(c)) {
                return c;
            }
        }
        return null;
    }

    @BeforeAll
    static void findTools() {
        iasl = tool("iasl");
        acpiexec = tool("acpiexec");
        RequiredTools.assume(iasl != null, "iasl not found: install Debian's acpica-tools (apt-get install -y acpica-tools)"
            + " to check the ACPI tables with ACPICA's disassembler");
    }

    record Run(int exit, String output) {
    }

    private Run run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + String.join(" ", cmd));
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    private String disassemble(String file, byte[] table) throws Exception {
        Files.write(dir.resolve(file + ".dat"), table);
        Run r = run(iasl.toString(), "-d", file + ".dat");
        assertEquals(0, r.exit(), r.output());
        assertFalse(r.output().matches("(?s).*\\b(Error|Warning)\\b.*"), r.output());
        String dsl = Files.readString(dir.resolve(file + ".dsl"));
        assertFalse(dsl.contains("****"), "iasl flagged something:\n" + dsl);
        assertFalse(dsl.toLowerCase().contains("incorrect"), "iasl flagged something:\n" + dsl);
        return dsl;
    }

    /** Whitespace-normalized, to match multi-line ASL constructs. */
    private static String flat(String s) {
        return s.replaceAll("\\s+", " ");
    }

    private static AcpiTables.Image fullImage() {
        return AcpiTablesTest.full().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
    }

    @Test
    void dsdtDisassemblesWithTheExpectedDevices() throws Exception {
        String dsl = disassemble("dsdt", fullImage().table("DSDT"));
        String f = flat(dsl);
        assertTrue(f.contains("DefinitionBlock (\"\", \"DSDT\", 2, \"JVISOR\", \"JVSRDSDT\", 0x00000001)"), dsl);
        assertTrue(f.contains("Name (\\_S5, Package (0x04) // _S5_: S5 System State { 0x05, Zero, Zero, Zero })"), dsl);
        assertTrue(f.contains("Scope (\\_SB)"), dsl);
        for (int i = 0; i < 4; i++) {
            assertTrue(f.contains("Device (C00" + i + ") { Name (_HID, \"ACPI0007\""), dsl);
        }
        assertTrue(f.contains("Device (COM1) { Name (_HID, EisaId (\"PNP0501\")"), dsl);
        assertTrue(f.contains("IO (Decode16, 0x03F8, // Range Minimum 0x03F8, // Range Maximum 0x00, // Alignment 0x08, // Length )"
            + " IRQNoFlags () {4}"), dsl);
        assertTrue(f.contains("Device (KBD) { Name (_HID, EisaId (\"PNP0303\")"), dsl);
        assertTrue(f.contains("IRQNoFlags () {1}"), dsl);
        assertTrue(f.contains("Device (RTC) { Name (_HID, EisaId (\"PNP0B00\")"), dsl);
        assertTrue(f.contains("IO (Decode16, 0x0070, // Range Minimum 0x0070, // Range Maximum 0x01, // Alignment 0x02, // Length )"
            + " IRQNoFlags () {8}"), dsl);
        for (int i = 0; i < 2; i++) {
            String base = i == 0 ? "0xFEB00000" : "0xFEB00200";
            String gsi = i == 0 ? "0x00000010" : "0x00000011";
            assertTrue(f.contains("Device (VR0" + i + ") { Name (_HID, \"LNRO0005\") // _HID: Hardware ID Name (_UID, "
                + (i == 0 ? "Zero" : "One") + ")"), dsl);
            assertTrue(f.contains("Memory32Fixed (ReadWrite, " + base + ", // Address Base 0x00000200, // Address Length )"
                + " Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, ) { " + gsi + ", }"), dsl);
        }
        assertTrue(f.contains("Name (_CCA, One)"), dsl);
        assertTrue(f.contains("Device (PCI0) { Name (_HID, EisaId (\"PNP0A08\")"), dsl);
        assertTrue(f.contains("Name (_CID, EisaId (\"PNP0A03\")"), dsl);
        assertTrue(f.contains("WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, // Granularity 0x0000,"
            + " // Range Minimum 0x00FF, // Range Maximum"), dsl);
        assertTrue(f.contains("DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,"), dsl);
        assertTrue(f.contains("QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Prefetchable, ReadWrite,"), dsl);
        assertTrue(f.contains("Name (_PRT, Package (0x10) // _PRT: PCI Routing Table { Package (0x04) { 0xFFFF, Zero, Zero, 0x14 },"), dsl);
        assertTrue(f.contains("Device (RES0) { Name (_HID, EisaId (\"PNP0C02\")"), dsl);
    }

    @Test
    void minimalDsdtDisassembles() throws Exception {
        byte[] d = new AcpiTables(1).i8042(false).rtc(false).build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE).table("DSDT");
        String f = flat(disassemble("dsdt", d));
        assertTrue(f.contains("Device (C000)"));
        assertTrue(f.contains("Device (COM1)"));
        assertFalse(f.contains("Device (KBD)"));
        assertFalse(f.contains("Device (RTC)"));
        assertFalse(f.contains("PCI0"));
        assertFalse(f.contains("LNRO0005"));
    }

    private static String body(String dsl) {
        // Drop the comment header (dates, file names, checksums) before the DefinitionBlock line.
        int at = dsl.indexOf("DefinitionBlock");
        return dsl.substring(at).replaceAll("\"JVSR\", 0x00000001\\)|\"INTL\", 0x[0-9A-F]+\\)", "");
    }

    @Test
    void disassembledDsdtRecompilesToTheSameProgram() throws Exception {
        assertRecompilesToTheSameProgram(fullImage());
    }

    /** The image's DSDT, disassembled, compiles with no errors into a program that disassembles the same. */
    private void assertRecompilesToTheSameProgram(AcpiTables.Image image) throws Exception {
        String dsl = disassemble("dsdt", image.table("DSDT"));
        Run c = run(iasl.toString(), "-on", "-p", "again", "dsdt.dsl");
        assertEquals(0, c.exit(), c.output());
        assertTrue(c.output().contains("0 Errors"), c.output());
        assertEquals(body(dsl), body(disassemble("again", Files.readAllBytes(dir.resolve("again.aml")))));
    }

    @Test
    void fadtDisassembles() throws Exception {
        String f = disassemble("facp", fullImage().table("FACP"));
        assertTrue(f.contains("Signature : \"FACP\""), f);
        assertTrue(f.contains("Table Length : 00000114"), f);
        assertTrue(f.contains("Revision : 06"), f);
        assertTrue(f.contains("FADT Minor Revision : 05"), f);
        assertTrue(f.contains("SCI Interrupt : 0009"), f);
        assertTrue(f.contains("RTC Century Index : 32"), f);
        assertTrue(f.contains("SMI Command Port : 00000000"), f);
        assertTrue(f.contains("PM1A Event Block Address : 00000600"), f);
        assertTrue(f.contains("PM1A Control Block Address : 00000604"), f);
        assertTrue(f.contains("PM Timer Block Address : 00000608"), f);
        assertTrue(f.contains("8042 Present on ports 60/64 (V2) : 1"), f);
        assertTrue(f.contains("Legacy Devices Supported (V2) : 1"), f);
        assertTrue(f.contains("Reset Register Supported (V2) : 1"), f);
        assertTrue(f.contains("32-bit PM Timer (V1) : 1"), f);
        assertTrue(f.contains("Hardware Reduced (V5) : 0"), f);
        assertTrue(flat(f).contains("Reset Register : [Generic Address Structure] [074h 0116 1] Space ID : 01 [SystemIO]"
            + " [075h 0117 1] Bit Width : 08"), f);
        assertTrue(f.contains("Address : 0000000000000CF9"), f);
        assertTrue(f.contains("Value to cause reset : 06"), f);
        assertTrue(flat(f).contains("PM Timer Block : [Generic Address Structure] [0D0h 0208 1] Space ID : 01 [SystemIO]"
            + " [0D1h 0209 1] Bit Width : 20"), f);
    }

    @Test
    void madtDisassembles() throws Exception {
        String m = disassemble("apic", fullImage().table("APIC"));
        assertTrue(m.contains("Local Apic Address : FEE00000"), m);
        assertTrue(m.contains("PC-AT Compatibility : 1"), m);
        assertEquals(4, count(m, "Subtable Type : 00 [Processor Local APIC]"), m);
        assertEquals(4, count(m, "Processor Enabled : 1"), m);
        assertEquals(1, count(m, "Subtable Type : 01 [I/O APIC]"), m);
        assertTrue(m.contains("Address : FEC00000"), m);
        assertEquals(2, count(m, "Subtable Type : 02 [Interrupt Source Override]"), m);
        assertTrue(flat(m).contains("Source : 09 [066h 0102 4] Interrupt : 00000009 [06Ah 0106 2] Flags (decoded below) : 000D"
            + " Polarity : 1 Trigger Mode : 3"), m);
        assertTrue(flat(m).contains("Source : 00 [05Ch 0092 4] Interrupt : 00000002"), m);
        assertEquals(1, count(m, "[Local APIC NMI]"), m);
        assertTrue(m.contains("Interrupt Input LINT : 01"), m);
    }

    @Test
    void rootTablesAndMcfgDisassemble() throws Exception {
        AcpiTables.Image img = fullImage();
        String x = disassemble("xsdt", img.table("XSDT"));
        assertTrue(x.contains(String.format("ACPI Table Address   0 : %016X", img.tables().get("FACP"))), x);
        assertTrue(x.contains(String.format("ACPI Table Address   2 : %016X", img.tables().get("MCFG"))), x);
        String r = disassemble("rsdt", img.table("RSDT"));
        assertTrue(r.contains(String.format("ACPI Table Address   1 : %08X", img.tables().get("APIC"))), r);
        String m = disassemble("mcfg", img.table("MCFG"));
        assertTrue(m.contains("Base Address : 00000000B0000000"), m);
        assertTrue(m.contains("End Bus Number : FF"), m);
        long facs = img.tables().get("FACS");
        String f = disassemble("facs", Arrays.copyOfRange(img.bytes(), (int) (facs - img.base()), (int) (facs - img.base()) + 64));
        assertTrue(f.contains("Signature : \"FACS\""), f);
        assertTrue(f.contains("Version : 02"), f);
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    private static final String REFERENCE_ASL = """
        DefinitionBlock ("", "DSDT", 2, "JVISOR", "JVSRDSDT", 1)
        {
            Name (\\_S5, Package () { 5, 0, 0, 0 })
            Scope (\\_SB)
            {
                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, 0)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08)
                        IRQNoFlags () {4}
                    })
                }
                Device (VR00)
                {
                    Name (_HID, "LNRO0005")
                    Name (_UID, 0)
                    Name (_CCA, 1)
                    Name (_CRS, ResourceTemplate ()
                    {
                        Memory32Fixed (ReadWrite, 0xFEB00000, 0x00000200)
                        Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) {16}
                        Interrupt (ResourceConsumer, Edge, ActiveLow, Shared) {5, 6}
                        IRQ (Level, ActiveLow, Shared) {9, 11}
                        FixedIO (0x0060, 0x01)
                    })
                }
                Device (PWRB)
                {
                    Name (_HID, EisaId ("PNP0C0C"))
                }
                Device (PCI0)
                {
                    Name (_HID, EisaId ("PNP0A08"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
                        IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                        WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0, 0x0CF7, 0, 0x0CF8)
                        DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                            0, 0xC0000000, 0xFEBFFFFF, 0, 0x3EC00000)
                        QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Prefetchable, ReadWrite,
                            0, 0x8000000000, 0xFFFFFFFFFF, 0, 0x8000000000)
                    })
                    Name (_PRT, Package ()
                    {
                        Package () { 0xFFFF, 0, 0, 0x14 },
                        Package () { 0x0001FFFF, 3, 0, 0x17 }
                    })
                }
                OperationRegion (PMIO, SystemIO, 0x0600, 0x0C)
                Field (PMIO, WordAcc, NoLock, WriteAsZeros)
                {
                    STS,   16,
                    Offset (0x04),
                    CNT,   16
                }
                Method (MTH1, 1, Serialized)
                {
                    Store (Arg0, Local1)
                    If (LEqual (And (Local1, 2), 2))
                    {
                        Notify (PWRB, 0x80)
                    }
                    Else
                    {
                        Return (Zero)
                    }
                    Return (Local1)
                }
                Method (MTH2, 0, NotSerialized)
                {
                    Return (0x0F)
                }
                Name (BUF1, Buffer () { 1, 2, 3 })
                Name (PKG1, Package () { "A", 0x123456789, Ones, 0x10000, \\_SB.PCI0 })
                Name (BUF2, Buffer () { 0, 0, 0, 0, 0, 0, 0, 0 })
                Method (MTH3, 1, NotSerialized)
                {
                    CreateDWordField (BUF2, 0x04, DW1)
                    If (LNotEqual (Arg0, ToUUID ("e5c937d0-3553-4d7a-9117-ea4d19c3434d")))
                    {
                        Or (DW1, 0x0100, DW1)
                    }
                    Return (DW1)
                }
            }
        }
        """;

    /** The same program through the AmlWriter (EndTag checksum 0, as iasl writes it). */
    private static byte[] referenceAml() {
        AmlWriter w = new AmlWriter().endTagChecksum(false);
        w.name("\\_S5").beginPackage().integer(5).zero().zero().zero().end();
        w.beginScope("\\_SB");
        w.beginDevice("COM1");
        w.name("_HID").eisaId("PNP0501");
        w.name("_UID").integer(0);
        w.name("_CRS").beginResourceTemplate().io(0x3F8, 0x3F8, 0, 8).irqNoFlags(4).end();
        w.end();
        w.beginDevice("VR00");
        w.name("_HID").string("LNRO0005");
        w.name("_UID").integer(0);
        w.name("_CCA").integer(1);
        w.name("_CRS").beginResourceTemplate()
            .memory32Fixed(true, 0xFEB00000L, 0x200)
            .extendedInterrupt(true, false, false, false, 16)
            .extendedInterrupt(true, true, true, true, 5, 6)
            .irq(false, true, true, 9, 11)
            .fixedIo(0x60, 1)
            .end();
        w.end();
        w.beginDevice("PWRB").name("_HID").eisaId("PNP0C0C").end();
        w.beginDevice("PCI0");
        w.name("_HID").eisaId("PNP0A08");
        w.name("_CRS").beginResourceTemplate()
            .wordBusNumber(0, 0xFF)
            .io(0xCF8, 0xCF8, 1, 8)
            .wordIo(0, 0xCF7)
            .dwordMemory(AmlWriter.MEM_NON_CACHEABLE, 0xC000_0000L, 0xFEBF_FFFFL)
            .qwordMemory(AmlWriter.MEM_PREFETCHABLE, 0x80_0000_0000L, 0xFF_FFFF_FFFFL)
            .end();
        w.name("_PRT").beginPackage()
            .beginPackage().integer(0xFFFF).integer(0).integer(0).integer(0x14).end()
            .beginPackage().integer(0x1FFFF).integer(3).integer(0).integer(0x17).end()
            .end();
        w.end();
        w.opRegion("PMIO", AmlWriter.SPACE_SYSTEM_IO, 0x600, 0x0C);
        w.beginField("PMIO", AmlWriter.ACC_WORD | AmlWriter.UPDATE_WRITE_AS_ZEROS)
            .field("STS", 16).reservedField(16).field("CNT", 16).end();
        w.beginMethod("MTH1", 1, true);
        w.store().arg(0).local(1);
        w.beginIf().lEqual().and().local(1).integer(2).nullTarget().integer(2);
        w.notifyOp().nameRef("PWRB").integer(0x80);
        w.end();
        w.beginElse().returnOp().zero().end();
        w.returnOp().local(1);
        w.end();
        w.beginMethod("MTH2", 0, false).returnOp().integer(0x0F).end();
        w.name("BUF1").buffer(new byte[] {1, 2, 3});
        w.name("PKG1").beginPackage().string("A").integer(0x1_2345_6789L).ones().integer(0x10000).nameRef("\\_SB.PCI0").end();
        w.name("BUF2").buffer(new byte[8]);
        w.beginMethod("MTH3", 1, false);
        w.createDWordField().nameRef("BUF2").integer(4).nameString("DW1");
        w.beginIf().lNotEqual().arg(0).toUuid("e5c937d0-3553-4d7a-9117-ea4d19c3434d");
        w.or().nameRef("DW1").integer(0x100).nameString("DW1");
        w.end();
        w.returnOp().nameRef("DW1");
        w.end();
        w.end();
        return w.toByteArray();
    }

    @Test
    void amlWriterMatchesIaslByteForByte() throws Exception {
        Files.writeString(dir.resolve("ref.asl"), REFERENCE_ASL);
        Run c = run(iasl.toString(), "-on", "-p", "ref", "ref.asl");
        assertEquals(0, c.exit(), c.output());
        byte[] iaslAml = Files.readAllBytes(dir.resolve("ref.aml"));
        byte[] body = Arrays.copyOfRange(iaslAml, SdtWriter.HEADER_SIZE, iaslAml.length);
        byte[] ours = referenceAml();
        assertArrayEquals(body, ours, () -> "iasl:\n" + hex(body) + "\nours:\n" + hex(ours));
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < b.length; i++) {
            s.append(String.format("%02X%s", b[i] & 0xFF, i % 32 == 31 ? "\n" : " "));
        }
        return s.toString();
    }

    @Test
    void acpicaInterpreterLoadsAndEvaluatesTheTables() throws Exception {
        RequiredTools.assume(acpiexec != null, "acpiexec (acpica-tools) not found");
        AcpiTables.Image img = fullImage();
        List<String> cmd = new ArrayList<>(List.of(acpiexec.toString(), "-b",
            "evaluate \\_S5; evaluate \\_SB.VR01._HID; evaluate \\_SB.COM1._HID; evaluate \\_SB.PCI0._PRT;"
                + " resources \\_SB.VR01; resources \\_SB.COM1; resources \\_SB.PCI0"));
        for (String s : List.of("DSDT", "FACP", "APIC", "MCFG")) {
            Files.write(dir.resolve(s + ".dat"), img.table(s));
            cmd.add(s + ".dat");
        }
        Run r = run(cmd.toArray(String[]::new));
        String o = r.output();
        assertEquals(0, r.exit(), o);
        assertTrue(o.contains("1 ACPI AML tables successfully acquired and loaded"), o);
        assertFalse(o.contains("ACPI Error"), o);
        assertFalse(o.contains("ACPI Exception"), o);
        assertTrue(flat(o).contains("Evaluation of \\_S5 returned object"), o);
        assertTrue(flat(o).contains("[Package] Contains 4 Elements: [Integer] = 0000000000000005"), o);
        assertTrue(o.contains("[String] Length 08 = \"LNRO0005\""), o);
        assertTrue(o.contains("[Integer] = 000000000105D041"), o);
        assertTrue(flat(o).contains("[Package] Contains 16 Elements:"), o);
        String f = flat(o);
        assertTrue(f.contains("Address : FEB00200 Address Length : 00000200"), o);
        assertTrue(f.contains("Type : ResourceConsumer Triggering : Level Polarity : ActiveHigh Sharing : Exclusive"), o);
        assertTrue(f.contains("Dword00 : 00000011"), o);
        assertTrue(f.contains("Address Minimum : 03F8"), o);
        // acpiexec converts each resource back to AML and compares: only the EndTag may differ,
        // because ACPICA writes checksum 0 and we write the real checksum.
        Matcher m = Pattern.compile("Data mismatch in descriptor \\[\\d+\\] type ([0-9A-F]+)").matcher(o);
        int mismatches = 0;
        while (m.find()) {
            assertEquals("78", m.group(1), "only the EndTag checksum may differ:\n" + o);
            mismatches++;
        }
        assertEquals(3, mismatches, o);
    }

    @Test
    void tablesForManyConfigurationsDisassemble() throws Exception {
        for (Map.Entry<String, AcpiTables> e : Map.of(
            "max", new AcpiTables(Madt.MAX_VCPUS).pciHost(PciHost.legacy(0xC000_0000L, 0x3EC0_0000L, PciHost.swizzledRoutes(32, 16))),
            "virtio8", virtio(8)).entrySet()) {
            AcpiTables.Image img = e.getValue().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
            String d = disassemble(e.getKey() + "-dsdt", img.table("DSDT"));
            disassemble(e.getKey() + "-apic", img.table("APIC"));
            if (e.getKey().equals("max")) {
                assertTrue(d.contains("Device (C0FE)"), "vCPU 254");
                assertTrue(d.contains("EisaId (\"PNP0A03\")"));
                assertTrue(d.contains("Package (0x80)"), "128 _PRT entries");
            } else {
                assertTrue(d.contains("Device (VR07)"));
                assertTrue(d.contains("0x00000017,"));
            }
        }
    }

    private static AcpiTables virtio(int n) {
        AcpiTables t = new AcpiTables(2);
        for (int i = 0; i < n; i++) {
            t.addVirtioMmio(0xFEB0_0000L + 0x200L * i, 0x200, 16 + i);
        }
        return t;
    }

    // ---- ACPI PCI hot-plug (the pc machine) ----------------------------------------------------

    private static AcpiTables.Image pcImage() {
        return AcpiTablesTest.pcWithHotplug().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
    }

    @Test
    void pcDsdtWithPciHotplugDisassembles() throws Exception {
        String dsl = disassemble("dsdt", pcImage().table("DSDT"));
        String f = flat(dsl);
        assertTrue(f.contains("OperationRegion (PCST, SystemIO, 0xAE00, 0x08) Field (PCST, DWordAcc, NoLock, WriteAsZeros)"
            + " { PCIU, 32, PCID, 32 }"), dsl);
        assertTrue(f.contains("OperationRegion (SEJ, SystemIO, 0xAE08, 0x04) Field (SEJ, DWordAcc, NoLock, WriteAsZeros)"
            + " { B0EJ, 32 }"), dsl);
        assertTrue(f.contains("OperationRegion (BNMR, SystemIO, 0xAE10, 0x08) Field (BNMR, DWordAcc, NoLock, WriteAsZeros)"
            + " { BNUM, 32, PIDX, 32 }"), dsl);
        assertTrue(f.contains("Mutex (BLCK, 0x00) Method (PCEJ, 2, NotSerialized) { Acquire (BLCK, 0xFFFF) BNUM = Arg0"
            + " B0EJ = (One << Arg1) Release (BLCK) Return (Zero) }"), dsl);
        assertTrue(f.contains("Device (GPE0) { Name (_HID, \"PNP0A06\" /* Generic Container Device */) // _HID: Hardware ID"
            + " Name (_UID, \"GPE0 resources\") // _UID: Unique ID Name (_STA, 0x0B) // _STA: Status"
            + " Name (_CRS, ResourceTemplate () // _CRS: Current Resource Settings { IO (Decode16, 0xAFE0, // Range Minimum"
            + " 0xAFE0, // Range Maximum 0x01, // Alignment 0x04, // Length ) }) }"), dsl);
        assertTrue(f.contains("Device (PHPR) { Name (_HID, \"PNP0A06\" /* Generic Container Device */) // _HID: Hardware ID"
            + " Name (_UID, \"PCI Hotplug resources\") // _UID: Unique ID Name (_STA, 0x0B) // _STA: Status"
            + " Name (_CRS, ResourceTemplate () // _CRS: Current Resource Settings { IO (Decode16, 0xAE00, // Range Minimum"
            + " 0xAE00, // Range Maximum 0x01, // Alignment 0x18, // Length ) }) }"), dsl);
        assertFalse(f.contains("Device (S00)"), "host bridge");
        assertFalse(f.contains("Device (S08)"), "PIIX3");
        for (int slot = 2; slot < 32; slot++) {
            String name = String.format("S%02X", slot << 3);
            assertTrue(f.contains(String.format("Device (%s) { Name (_SUN, %s) // _SUN: Slot User Number Name (_ADR, 0x%08X)"
                + " // _ADR: Address Method (_EJ0, 1, NotSerialized) // _EJx: Eject Device, x=0-9 { PCEJ (BSEL, _SUN) } }",
                name, String.format("0x%02X", slot), slot << 16)), name + "\n" + dsl);
            assertTrue(f.contains(String.format("If ((Arg0 & 0x%s)) { Notify (%s, Arg1) }",
                slot < 8 ? String.format("%02X", 1 << slot) : slot < 16 ? String.format("%04X", 1 << slot)
                    : String.format("%08X", 1L << slot), name)), name + "\n" + dsl);
        }
        assertTrue(f.contains("Method (PCNT, 0, NotSerialized) { BNUM = Zero DVNT (PCIU, One) DVNT (PCID, 0x03) }"), dsl);
        assertTrue(f.contains("Scope (\\_GPE) { Method (_E01, 0, NotSerialized) // _Exx: Edge-Triggered GPE, xx=0x00-0xFF"
            + " { Acquire (\\_SB.PCI0.BLCK, 0xFFFF) \\_SB.PCI0.PCNT () Release (\\_SB.PCI0.BLCK) } }"), dsl);
        assertFalse(f.contains("External"), "every name resolves inside the table");
    }

    @Test
    void pcDsdtWithPciHotplugRecompilesToTheSameProgram() throws Exception {
        assertRecompilesToTheSameProgram(pcImage());
    }

    @Test
    void pcFadtDescribesTheGpe0Block() throws Exception {
        String f = disassemble("facp", pcImage().table("FACP"));
        assertTrue(f.contains("GPE0 Block Address : 0000AFE0"), f);
        assertTrue(f.contains("GPE0 Block Length : 04"), f);
        assertTrue(flat(f).contains("GPE0 Block : [Generic Address Structure] [0DCh 0220 1] Space ID : 01 [SystemIO]"
            + " [0DDh 0221 1] Bit Width : 20 [0DEh 0222 1] Bit Offset : 00 [0DFh 0223 1] Encoded Access Width : 01"
            + " [Byte Access:8] [0E0h 0224 8] Address : 000000000000AFE0"), f);
    }

    /**
     * The start of a hot-plug DSDT's ASL as both chipsets write it, up to PCEJ: the PCI host
     * bridge {@code hid}, the GPE0 block at {@code gpe} ({@code gpeLength} bytes) and the hot-plug
     * registers at {@code base} (PCIU/PCID, B0EJ at +8, BNUM/PIDX at +0x10), in QEMU 7.2's layout.
     */
    private static String hotplugAslPrelude(String hid, int gpe, int gpeLength, int base) {
        return """
        DefinitionBlock ("", "DSDT", 2, "JVISOR", "JVSRDSDT", 1)
        {
            Scope (\\_SB)
            {
                Device (PCI0)
                {
                    Name (_HID, EisaId ("%1$s"))
                    Device (GPE0)
                    {
                        Name (_HID, "PNP0A06")
                        Name (_UID, "GPE0 resources")
                        Name (_STA, 0x0B)
                        Name (_CRS, ResourceTemplate () { IO (Decode16, 0x%2$04X, 0x%2$04X, 0x01, 0x%3$02X) })
                    }
                    Device (PHPR)
                    {
                        Name (_HID, "PNP0A06")
                        Name (_UID, "PCI Hotplug resources")
                        Name (_STA, 0x0B)
                        Name (_CRS, ResourceTemplate () { IO (Decode16, 0x%4$04X, 0x%4$04X, 0x01, 0x18) })
                    }
                    OperationRegion (PCST, SystemIO, 0x%4$04X, 0x08)
                    Field (PCST, DWordAcc, NoLock, WriteAsZeros) { PCIU, 32, PCID, 32 }
                    OperationRegion (SEJ, SystemIO, 0x%5$04X, 0x04)
                    Field (SEJ, DWordAcc, NoLock, WriteAsZeros) { B0EJ, 32 }
                    OperationRegion (BNMR, SystemIO, 0x%6$04X, 0x08)
                    Field (BNMR, DWordAcc, NoLock, WriteAsZeros) { BNUM, 32, PIDX, 32 }
                    Mutex (BLCK, 0)
                    Method (PCEJ, 2, NotSerialized)
                    {
                        Acquire (BLCK, 0xFFFF)
                        Store (Arg0, BNUM)
                        Store (ShiftLeft (1, Arg1), B0EJ)
                        Release (BLCK)
                        Return (0)
                    }
            """.formatted(hid, gpe, gpeLength, base, base + 8, base + 0x10);
    }

    private static final String HOTPLUG_ASL = hotplugAslPrelude("PNP0A03", 0xAFE0, 0x04, 0xAE00) + """
                    Name (BSEL, 0)
                    Device (S10)
                    {
                        Name (_SUN, 2)
                        Name (_ADR, 0x00020000)
                        Method (_EJ0, 1, NotSerialized) { PCEJ (BSEL, _SUN) }
                    }
                    Device (SF8)
                    {
                        Name (_SUN, 31)
                        Name (_ADR, 0x001F0000)
                        Method (_EJ0, 1, NotSerialized) { PCEJ (BSEL, _SUN) }
                    }
                    Method (DVNT, 2, NotSerialized)
                    {
                        If (And (Arg0, 0x04)) { Notify (S10, Arg1) }
                        If (And (Arg0, 0x80000000)) { Notify (SF8, Arg1) }
                    }
                    Method (PCNT, 0, NotSerialized)
                    {
                        Store (0, BNUM)
                        DVNT (PCIU, 1)
                        DVNT (PCID, 3)
                    }
                }
            }
            Scope (\\_GPE)
            {
                Method (_E01, 0, NotSerialized)
                {
                    Acquire (\\_SB.PCI0.BLCK, 0xFFFF)
                    \\_SB.PCI0.PCNT ()
                    Release (\\_SB.PCI0.BLCK)
                }
            }
        }
        """;

    /** The hot-plug AML, written by hand in ASL as QEMU 7.2's is, compiles to exactly our bytes. */
    @Test
    void hotplugAmlMatchesIaslByteForByte() throws Exception {
        assertHotplugAmlMatchesIasl("hp", HOTPLUG_ASL, "PNP0A03", w -> PciHotplugAml.writeRootBus(w, 1 << 2 | 1 << 31));
    }

    /**
     * iasl's compile of {@code asl} (named {@code name}) is, past the table header, exactly what
     * AmlWriter writes for a PCI0 with {@code hid} and {@code bus}'s hot-plug AML, then the GPE scope.
     */
    private void assertHotplugAmlMatchesIasl(String name, String asl, String hid, java.util.function.Consumer<AmlWriter> bus)
            throws Exception {
        Files.writeString(dir.resolve(name + ".asl"), asl);
        Run c = run(iasl.toString(), "-on", "-p", name, name + ".asl");
        assertEquals(0, c.exit(), c.output());
        byte[] iaslAml = Files.readAllBytes(dir.resolve(name + ".aml"));
        byte[] body = Arrays.copyOfRange(iaslAml, SdtWriter.HEADER_SIZE, iaslAml.length);
        AmlWriter w = new AmlWriter().endTagChecksum(false); // iasl writes EndTag checksum 0
        w.beginScope("\\_SB").beginDevice("PCI0");
        w.name("_HID").eisaId(hid);
        bus.accept(w);
        w.end().end();
        PciHotplugAml.writeGpeScope(w);
        byte[] ours = w.toByteArray();
        assertArrayEquals(body, ours, () -> "iasl:\n" + hex(body) + "\nours:\n" + hex(ours));
    }

    /**
     * acpiexec's batch {@code commands} over {@code img}'s tables and a test SSDT whose
     * {@code \\TSET(up, down)} stores PCIU and PCID (acpiexec backs SystemIO regions with memory):
     * its output, after checking it ran without an ACPI error or exception.
     */
    private String acpiexecWithTset(AcpiTables.Image img, String commands) throws Exception {
        Files.writeString(dir.resolve("set.asl"), """
            DefinitionBlock ("", "SSDT", 2, "JVISOR", "HPTEST", 1)
            {
                External (\\_SB.PCI0.PCIU, FieldUnitObj)
                External (\\_SB.PCI0.PCID, FieldUnitObj)
                Method (\\TSET, 2, NotSerialized)
                {
                    \\_SB.PCI0.PCIU = Arg0
                    \\_SB.PCI0.PCID = Arg1
                }
            }
            """);
        Run c = run(iasl.toString(), "-p", "set", "set.asl");
        assertEquals(0, c.exit(), c.output());
        List<String> cmd = new ArrayList<>(List.of(acpiexec.toString(), "-b", commands));
        for (String s : List.of("DSDT", "FACP", "APIC", "MCFG")) {
            Files.write(dir.resolve(s + ".dat"), img.table(s));
            cmd.add(s + ".dat");
        }
        cmd.add("set.aml");
        Run r = run(cmd.toArray(String[]::new));
        String o = r.output();
        assertEquals(0, r.exit(), o);
        assertFalse(o.contains("ACPI Error"), o);
        assertFalse(o.contains("ACPI Exception"), o);
        return o;
    }

    /**
     * ACPICA's interpreter runs the GPE method: with PCIU and PCID set (through a test SSDT, as
     * acpiexec backs SystemIO regions with memory), _E01 notifies Device Check and Eject Request to
     * the right slot devices, and a slot's _EJ0 writes its bit to B0EJ on bus 0.
     */
    @Test
    void acpicaRunsTheHotplugEventAndTheEject() throws Exception {
        RequiredTools.assume(acpiexec != null, "acpiexec (acpica-tools) not found");
        String o = acpiexecWithTset(pcImage(), "execute \\TSET 0x8 0x80000000; execute \\_GPE._E01;"
            + " execute \\_SB.PCI0.S20._EJ0 1; evaluate \\_SB.PCI0.B0EJ; evaluate \\_SB.PCI0.BNUM; evaluate \\_SB.PCI0.S20._SUN");
        assertTrue(o.contains("Initialized GPE 00 to 0F [_GPE] 2 regs on interrupt 0x9"), "ACPICA found the GPE0 block:\n" + o);
        assertTrue(o.contains("Received a System Notify on [S18_]"), o);
        assertTrue(o.contains("Value 0x01 (Device Check)"), o);
        assertTrue(o.contains("Received a System Notify on [SF8_]"), o);
        assertTrue(o.contains("Value 0x03 (Eject Request)"), o);
        assertEquals(2, count(o, "Received a System Notify"), o);
        String f = flat(o);
        assertTrue(f.contains("Evaluation of \\_SB.PCI0.B0EJ returned object") && f.contains("[Integer] = 0000000000000010"),
            "S20's _EJ0 wrote slot 4's bit:\n" + o);
        assertTrue(f.contains("Evaluation of \\_SB.PCI0.BNUM returned object"), o);
    }

    // ---- _OSC on q35's PCI Express host (native PCI Express hot-plug) --------------------------

    private static AcpiTables.Image q35Image() {
        return PciHostOscTest.q35().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
    }

    @Test
    void q35DsdtWithOscDisassembles() throws Exception {
        String dsl = disassemble("dsdt", q35Image().table("DSDT"));
        String f = flat(dsl);
        assertTrue(f.contains("Name (_UID, Zero) // _UID: Unique ID"
            + " Method (_OSC, 4, NotSerialized) // _OSC: Operating System Capabilities"
            + " { CreateDWordField (Arg3, Zero, CDW1)"
            + " If ((Arg0 == ToUUID (\"33db4d5b-1ff7-401c-9657-7441c03dd766\") /* PCI Host Bridge Device */))"
            + " { CreateDWordField (Arg3, 0x04, CDW2) CreateDWordField (Arg3, 0x08, CDW3)"
            + " Local0 = CDW3 /* \\_SB_.PCI0._OSC.CDW3 */ Local0 &= 0x15"
            + " If ((Arg1 != One)) { CDW1 |= 0x08 }"
            + " If ((CDW3 != Local0)) { CDW1 |= 0x10 }"
            + " CDW3 = Local0 }"
            + " Else { CDW1 |= 0x04 }"
            + " Return (Arg3) }"
            + " Name (_CRS, ResourceTemplate ()"), dsl);
        assertTrue(f.contains("Device (PCI0) { Name (_HID, EisaId (\"PNP0A08\")"), dsl);
        assertFalse(f.contains("External"), "every name resolves inside the table");
    }

    @Test
    void q35DsdtWithOscRecompilesToTheSameProgram() throws Exception {
        assertRecompilesToTheSameProgram(q35Image());
    }

    @Test
    void pcAndMicrovmDsdtsHaveNoOsc() throws Exception {
        assertFalse(disassemble("pc", pcImage().table("DSDT")).contains("_OSC"));
        assertFalse(disassemble("full", fullImage().table("DSDT")).contains("_OSC"));
        assertFalse(disassemble("microvm", virtio(2).build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE)
            .table("DSDT")).contains("_OSC"));
    }

    /** PciHostOsc's ASL, written by hand in ASL 1.0 as QEMU 7.2's q35 DSDT has it (with jvisor's 0x15). */
    private static final String OSC_ASL = """
        DefinitionBlock ("", "DSDT", 2, "JVISOR", "JVSRDSDT", 1)
        {
            Scope (\\_SB)
            {
                Device (PCI0)
                {
                    Name (_HID, EisaId ("PNP0A08"))
                    Method (_OSC, 4, NotSerialized)
                    {
                        CreateDWordField (Arg3, 0, CDW1)
                        If (LEqual (Arg0, ToUUID ("33DB4D5B-1FF7-401C-9657-7441C03DD766")))
                        {
                            CreateDWordField (Arg3, 4, CDW2)
                            CreateDWordField (Arg3, 8, CDW3)
                            Store (CDW3, Local0)
                            And (Local0, 0x15, Local0)
                            If (LNotEqual (Arg1, 1))
                            {
                                Or (CDW1, 0x08, CDW1)
                            }
                            If (LNotEqual (CDW3, Local0))
                            {
                                Or (CDW1, 0x10, CDW1)
                            }
                            Store (Local0, CDW3)
                        }
                        Else
                        {
                            Or (CDW1, 0x04, CDW1)
                        }
                        Return (Arg3)
                    }
                }
            }
        }
        """;

    @Test
    void oscAmlMatchesIaslByteForByte() throws Exception {
        Files.writeString(dir.resolve("osc.asl"), OSC_ASL);
        Run c = run(iasl.toString(), "-on", "-p", "osc", "osc.asl");
        assertEquals(0, c.exit(), c.output());
        byte[] iaslAml = Files.readAllBytes(dir.resolve("osc.aml"));
        byte[] body = Arrays.copyOfRange(iaslAml, SdtWriter.HEADER_SIZE, iaslAml.length);
        AmlWriter w = new AmlWriter();
        w.beginScope("\\_SB").beginDevice("PCI0");
        w.name("_HID").eisaId("PNP0A08");
        PciHostOsc.write(w);
        w.end().end();
        byte[] ours = w.toByteArray();
        assertArrayEquals(body, ours, () -> "iasl:\n" + hex(body) + "\nours:\n" + hex(ours));
    }

    private static String bufferArg(byte[] b) {
        StringBuilder s = new StringBuilder("(");
        for (int i = 0; i < b.length; i++) {
            s.append(String.format(i == 0 ? "%02X" : " %02X", b[i] & 0xFF));
        }
        return s.append(')').toString();
    }

    /** The _OSC capabilities buffer: status, support and control dwords. */
    private static String capabilities(int cdw1, int cdw2, int cdw3) {
        byte[] b = new byte[12];
        java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(cdw1).putInt(cdw2).putInt(cdw3);
        return bufferArg(b);
    }

    private Run acpiexec(AcpiTables.Image img, String commands) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(acpiexec.toString(), "-b", commands));
        for (String s : List.of("DSDT", "FACP", "APIC", "MCFG")) {
            Files.write(dir.resolve(s + ".dat"), img.table(s));
            cmd.add(s + ".dat");
        }
        return run(cmd.toArray(String[]::new));
    }

    /**
     * ACPICA's interpreter evaluates q35's _OSC as Linux calls it (drivers/acpi/pci_root.c: revision
     * 1, three dwords; a query first, then a request for what the query granted) and with what it
     * must refuse: each returned buffer is CDW1 CDW2 CDW3, little-endian.
     */
    @Test
    void acpicaEvaluatesTheOsc() throws Exception {
        RequiredTools.assume(acpiexec != null, "acpiexec (acpica-tools) not found");
        String osc = "evaluate \\_SB.PCI0._OSC ";
        String uuid = bufferArg(AmlWriter.uuidBytes(PciHostOsc.PCI_HOST_BRIDGE_UUID));
        String other = bufferArg(AmlWriter.uuidBytes("00010203-0405-0607-0809-0A0B0C0D0E0F"));
        Run r = acpiexec(q35Image(), String.join("; ",
            osc + uuid + " 1 3 " + capabilities(0, 0, 0x1F),       // asks for hot-plug, SHPC, PME, AER, capability
            osc + uuid + " 1 3 " + capabilities(1, 0x1F, 0xBF),    // a query for all Linux knows of
            osc + uuid + " 1 3 " + capabilities(0, 0x1F, 0x15),    // the request for what was granted
            osc + uuid + " 1 3 " + capabilities(0, 0, 0x01),       // native hot-plug alone
            osc + other + " 1 3 " + capabilities(0, 0, 0x1F),      // not the PCI host bridge's UUID
            osc + uuid + " 2 3 " + capabilities(0, 0, 0x1F)));     // an unknown revision
        String o = r.output();
        assertEquals(0, r.exit(), o);
        assertTrue(o.contains("1 ACPI AML tables successfully acquired and loaded"), o);
        assertFalse(o.contains("ACPI Error"), o);
        assertFalse(o.contains("ACPI Exception"), o);
        Matcher m = Pattern.compile("Evaluation of \\\\_SB\\.PCI0\\._OSC returned object[^\\n]*\\n"
            + "\\s*\\[Buffer\\] Length 0C = +0000: ((?:[0-9A-F]{2} ){11}[0-9A-F]{2})").matcher(o);
        List<String> returned = new ArrayList<>();
        while (m.find()) {
            returned.add(m.group(1));
        }
        assertEquals(List.of(
            "10 00 00 00 00 00 00 00 15 00 00 00",  // masked; granted: hot-plug, PME, capability
            "11 00 00 00 1F 00 00 00 15 00 00 00",  // the query flag stays, masked; SHPC AER LTR DPC cleared
            "00 00 00 00 1F 00 00 00 15 00 00 00",  // all granted: no error bit, as Linux needs for a request
            "00 00 00 00 00 00 00 00 01 00 00 00",
            "04 00 00 00 00 00 00 00 1F 00 00 00",  // unrecognized UUID, the control dword untouched
            "18 00 00 00 00 00 00 00 15 00 00 00"), // unrecognized revision (and masked)
            returned, o);
    }

    /** The pc machine's PCI0 has no _OSC, as QEMU's i440fx DSDT: Linux gets AE_NOT_FOUND and keeps off. */
    @Test
    void acpicaFindsNoOscOnPc() throws Exception {
        RequiredTools.assume(acpiexec != null, "acpiexec (acpica-tools) not found");
        Run r = acpiexec(pcImage(), "evaluate \\_SB.PCI0._OSC");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("Evaluation of \\_SB.PCI0._OSC failed with status AE_NOT_FOUND"), r.output());
    }

    // ---- ACPI PCI hot-plug of q35's root ports (QEMU 7.2's ICH9 default) ----------------------

    /**
     * q35 with three root ports as QEMU 7.2 would number them: created at 00:05.0, 00:03.0,
     * 00:06.0 (hotplug=off) and 00:04.0, so BSEL 0 is 4's, 1 is 3's, 2 is 5's, and PCNT visits
     * 4, 6, 3, 5 (the order of QEMU 7.2's DSDT for that command line).
     */
    static AcpiTables q35AcpiHotplug() {
        return new AcpiTables(2)
            .pciHost(new PciHost(0, 0, 255, 0xB000_0000L, 0xC000_0000L, 0x3EC0_0000L,
                0x80_0000_0000L, 0x80_0000_0000L, PciHost.swizzledRoutes(32, 16)))
            .acpiPcieHotplug(List.of(new Dsdt.RootPort(4 << 3, java.util.OptionalInt.of(0)),
                new Dsdt.RootPort(6 << 3, java.util.OptionalInt.empty()),
                new Dsdt.RootPort(3 << 3, java.util.OptionalInt.of(1)),
                new Dsdt.RootPort(5 << 3, java.util.OptionalInt.of(2))));
    }

    private static AcpiTables.Image q35AcpiHotplugImage() {
        return q35AcpiHotplug().build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
    }

    @Test
    void q35AcpiHotplugDsdtDisassemblesAsQemus() throws Exception {
        String dsl = disassemble("dsdt", q35AcpiHotplugImage().table("DSDT"));
        String f = flat(dsl);
        assertTrue(f.contains("Local0 = CDW3 /* \\_SB_.PCI0._OSC.CDW3 */ Local0 &= 0x14"), "no native hot-plug:\n" + dsl);
        assertTrue(f.contains("OperationRegion (PCST, SystemIO, 0x0CC0, 0x08)"), dsl);
        assertTrue(f.contains("OperationRegion (SEJ, SystemIO, 0x0CC8, 0x04)"), dsl);
        assertTrue(f.contains("OperationRegion (BNMR, SystemIO, 0x0CD0, 0x08)"), dsl);
        assertTrue(f.contains("IO (Decode16, 0x0620, // Range Minimum 0x0620, // Range Maximum 0x01, // Alignment"
            + " 0x10, // Length )"), "GPE0 resources:\n" + dsl);
        assertTrue(f.contains("IO (Decode16, 0x0CC0, // Range Minimum 0x0CC0, // Range Maximum 0x01, // Alignment"
            + " 0x18, // Length )"), "PCI Hotplug resources:\n" + dsl);
        // QEMU 7.2's q35 DSDT, less ASUN and _DSM (acpi-index)
        for (int[] port : new int[][] {{3, 1}, {4, 0}, {5, 2}}) {
            String bsel = port[1] == 0 ? "Zero" : port[1] == 1 ? "One" : String.format("0x%02X", port[1]);
            assertTrue(f.contains(String.format("Device (S%02X) { Name (_ADR, 0x%08X) // _ADR: Address Name (BSEL, %s)"
                + " Device (S00) { Name (_ADR, Zero) // _ADR: Address Name (_SUN, Zero) // _SUN: Slot User Number"
                + " Method (_EJ0, 1, NotSerialized) // _EJx: Eject Device, x=0-9 { PCEJ (BSEL, _SUN) } }"
                + " Method (DVNT, 2, NotSerialized) { If ((Arg0 & One)) { Notify (S00, Arg1) } }"
                + " Method (PCNT, 0, NotSerialized) { BNUM = %s DVNT (PCIU, One) DVNT (PCID, 0x03) } }",
                port[0] << 3, port[0] << 16, bsel, bsel)), port[0] + "\n" + dsl);
        }
        assertTrue(f.contains("Device (S30) { Name (_ADR, 0x00060000) // _ADR: Address Method (PCNT, 0, NotSerialized) { } }"),
            dsl);
        assertTrue(f.contains("Method (PCNT, 0, NotSerialized) { ^S20.PCNT () ^S30.PCNT () ^S18.PCNT () ^S28.PCNT () }"), dsl);
        assertTrue(f.indexOf("Device (S18)") < f.indexOf("Device (S20)") && f.indexOf("Device (S20)") < f.indexOf("Device (S28)"),
            "the ports in devfn order");
        assertTrue(f.contains("Scope (\\_GPE) { Method (_E01, 0, NotSerialized) // _Exx: Edge-Triggered GPE, xx=0x00-0xFF"
            + " { Acquire (\\_SB.PCI0.BLCK, 0xFFFF) \\_SB.PCI0.PCNT () Release (\\_SB.PCI0.BLCK) } }"), dsl);
        assertFalse(f.contains("External"), "every name resolves inside the table");
    }

    @Test
    void q35AcpiHotplugDsdtRecompilesToTheSameProgram() throws Exception {
        assertRecompilesToTheSameProgram(q35AcpiHotplugImage());
    }

    @Test
    void q35FadtDescribesIch9sGpe0Block() throws Exception {
        String f = disassemble("facp", q35AcpiHotplugImage().table("FACP"));
        assertTrue(f.contains("GPE0 Block Address : 00000620"), f);   // QEMU 7.2's q35 FADT, read from a guest
        assertTrue(f.contains("GPE0 Block Length : 10"), f);
        assertTrue(flat(f).contains("GPE0 Block : [Generic Address Structure] [0DCh 0220 1] Space ID : 01 [SystemIO]"
            + " [0DDh 0221 1] Bit Width : 80 [0DEh 0222 1] Bit Offset : 00 [0DFh 0223 1] Encoded Access Width : 01"
            + " [Byte Access:8] [0E0h 0224 8] Address : 0000000000000620"), f);
    }

    private static final String ROOT_PORTS_ASL = hotplugAslPrelude("PNP0A08", 0x0620, 0x10, 0x0CC0) + """
                    Device (S10)
                    {
                        Name (_ADR, 0x00020000)
                        Method (PCNT, 0, NotSerialized) { }
                    }
                    Device (S19)
                    {
                        Name (_ADR, 0x00030001)
                        Name (BSEL, 1)
                        Device (S00)
                        {
                            Name (_ADR, 0)
                            Name (_SUN, 0)
                            Method (_EJ0, 1, NotSerialized) { PCEJ (BSEL, _SUN) }
                        }
                        Method (DVNT, 2, NotSerialized)
                        {
                            If (And (Arg0, 1)) { Notify (S00, Arg1) }
                        }
                        Method (PCNT, 0, NotSerialized)
                        {
                            Store (1, BNUM)
                            DVNT (PCIU, 1)
                            DVNT (PCID, 3)
                        }
                    }
                    Device (S20)
                    {
                        Name (_ADR, 0x00040000)
                        Name (BSEL, 0)
                        Device (S00)
                        {
                            Name (_ADR, 0)
                            Name (_SUN, 0)
                            Method (_EJ0, 1, NotSerialized) { PCEJ (BSEL, _SUN) }
                        }
                        Method (DVNT, 2, NotSerialized)
                        {
                            If (And (Arg0, 1)) { Notify (S00, Arg1) }
                        }
                        Method (PCNT, 0, NotSerialized)
                        {
                            Store (0, BNUM)
                            DVNT (PCIU, 1)
                            DVNT (PCID, 3)
                        }
                    }
                    Method (PCNT, 0, NotSerialized)
                    {
                        ^S20.PCNT ()
                        ^S10.PCNT ()
                        ^S19.PCNT ()
                    }
                }
            }
            Scope (\\_GPE)
            {
                Method (_E01, 0, NotSerialized)
                {
                    Acquire (\\_SB.PCI0.BLCK, 0xFFFF)
                    \\_SB.PCI0.PCNT ()
                    Release (\\_SB.PCI0.BLCK)
                }
            }
        }
        """;

    /** The root ports' AML, written by hand in ASL (a port at function 1, one without hot-plug), compiles to exactly our bytes. */
    @Test
    void rootPortHotplugAmlMatchesIaslByteForByte() throws Exception {
        assertHotplugAmlMatchesIasl("rp", ROOT_PORTS_ASL, "PNP0A08", w -> PciHotplugAml.writeRootPorts(w, List.of(
            new Dsdt.RootPort(4 << 3, java.util.OptionalInt.of(0)), new Dsdt.RootPort(2 << 3, java.util.OptionalInt.empty()),
            new Dsdt.RootPort(3 << 3 | 1, java.util.OptionalInt.of(1)))));
    }

    /**
     * ACPICA's interpreter runs q35's hot-plug AML. acpiexec backs SystemIO with memory, so PCIU
     * and PCID read what the test SSDT stored whatever BNUM says: _E01 then notifies every
     * hot-pluggable port's slot (and none of the hotplug=off port), each port's own PCNT leaves its
     * BSEL in BNUM, and a slot's _EJ0 writes slot 0's bit to B0EJ with its port's BSEL in BNUM.
     */
    @Test
    void acpicaRunsTheRootPortsHotplugEventAndEject() throws Exception {
        RequiredTools.assume(acpiexec != null, "acpiexec (acpica-tools) not found");
        String o = acpiexecWithTset(q35AcpiHotplugImage(), "execute \\TSET 0x1 0x0; execute \\_GPE._E01; evaluate \\_SB.PCI0.BNUM;"
            + " execute \\TSET 0x0 0x1; execute \\_SB.PCI0.S18.PCNT; evaluate \\_SB.PCI0.BNUM;"
            + " execute \\_SB.PCI0.S28.S00._EJ0 1; evaluate \\_SB.PCI0.B0EJ; evaluate \\_SB.PCI0.BNUM");
        assertTrue(o.contains("Initialized GPE 00 to 3F [_GPE] 8 regs on interrupt 0x9"), "ACPICA found ICH9's GPE0 block:\n" + o);
        assertEquals(4, count(o, "Received a System Notify on [S00_]"), "three ports on _E01, one on S18's PCNT:\n" + o);
        assertEquals(3, count(o, "Value 0x01 (Device Check)"), o);
        assertEquals(1, count(o, "Value 0x03 (Eject Request)"), o);
        Matcher m = Pattern.compile("Evaluation of \\\\_SB\\.PCI0\\.(B0EJ|BNUM) returned object[^\\n]*\\n\\s*\\[Integer\\] = ([0-9A-F]+)")
            .matcher(o);
        List<String> values = new ArrayList<>();
        while (m.find()) {
            values.add(m.group(1) + "=" + Long.parseLong(m.group(2), 16));
        }
        // _E01 visits S20 (BSEL 0), S30, S18 (1), S28 (2) last; S18's PCNT selects 1; S28's _EJ0 bus 2, slot 0
        assertEquals(List.of("BNUM=2", "BNUM=1", "B0EJ=1", "BNUM=2"), values, o);
    }

    /**
     * In ACPI hot-plug mode q35's _OSC withholds native hot-plug as QEMU 7.2's does (a Linux guest
     * logs "platform does not support [PCIeHotplug ...]"): Linux's query and request, as in
     * {@link #acpicaEvaluatesTheOsc}.
     */
    @Test
    void acpicaEvaluatesTheOscThatKeepsHotplug() throws Exception {
        RequiredTools.assume(acpiexec != null, "acpiexec (acpica-tools) not found");
        String osc = "evaluate \\_SB.PCI0._OSC ";
        String uuid = bufferArg(AmlWriter.uuidBytes(PciHostOsc.PCI_HOST_BRIDGE_UUID));
        Run r = acpiexec(q35AcpiHotplugImage(), String.join("; ",
            osc + uuid + " 1 3 " + capabilities(1, 0x1F, 0xBF),    // Linux's query
            osc + uuid + " 1 3 " + capabilities(0, 0x1F, 0x14)));  // its request for what was granted
        String o = r.output();
        assertEquals(0, r.exit(), o);
        assertFalse(o.contains("ACPI Error"), o);
        Matcher m = Pattern.compile("Evaluation of \\\\_SB\\.PCI0\\._OSC returned object[^\\n]*\\n"
            + "\\s*\\[Buffer\\] Length 0C = +0000: ((?:[0-9A-F]{2} ){11}[0-9A-F]{2})").matcher(o);
        List<String> returned = new ArrayList<>();
        while (m.find()) {
            returned.add(m.group(1));
        }
        assertEquals(List.of(
            "11 00 00 00 1F 00 00 00 14 00 00 00",  // masked: PME and the capability, no hot-plug
            "00 00 00 00 1F 00 00 00 14 00 00 00"), returned, o);
    }
}
