package org.jvisor.boot.acpi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Byte-level checks of the AML encodings against ACPI 6.5 ch. 20 and 6.4. */
class AmlWriterTest {

    static byte[] b(int... v) {
        byte[] r = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = (byte) v[i];
        }
        return r;
    }

    static byte[] cat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] r = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, r, at, p.length);
            at += p.length;
        }
        return r;
    }

    private static byte[] prefixOfIf(int bodyBytes, int prefixLen) {
        byte[] all = new AmlWriter().beginIf().raw(new byte[bodyBytes]).end().toByteArray();
        assertEquals(1 + prefixLen + bodyBytes, all.length, "If op + PkgLength + body");
        byte[] p = new byte[1 + prefixLen];
        System.arraycopy(all, 0, p, 0, p.length);
        return p;
    }

    @Test
    void pkgLengthUsesOneByteUpTo63IncludingItself() {
        assertArrayEquals(b(0xA0, 0x01), prefixOfIf(0, 1));
        assertArrayEquals(b(0xA0, 0x3F), prefixOfIf(62, 1));
    }

    @Test
    void pkgLengthGrowsToTwoBytesAt64() {
        // 63 body bytes + 2 length bytes = 65 = 0x41: lead 0x40 | low nibble 1, then 0x41 >> 4.
        assertArrayEquals(b(0xA0, 0x41, 0x04), prefixOfIf(63, 2));
        // 4093 + 2 = 4095 = 0xFFF, the largest 2-byte length.
        assertArrayEquals(b(0xA0, 0x4F, 0xFF), prefixOfIf(4093, 2));
    }

    @Test
    void pkgLengthGrowsToThreeAndFourBytes() {
        // 4094 + 3 = 4097 = 0x1001
        assertArrayEquals(b(0xA0, 0x81, 0x00, 0x01), prefixOfIf(4094, 3));
        // 0xFFFFC + 3 = 0xFFFFF, the largest 3-byte length
        assertArrayEquals(b(0xA0, 0x8F, 0xFF, 0xFF), prefixOfIf(0xFFFFC, 3));
        // 0xFFFFD + 4 = 0x100001
        assertArrayEquals(b(0xA0, 0xC1, 0x00, 0x00, 0x01), prefixOfIf(0xFFFFD, 4));
    }

    @ParameterizedTest
    @CsvSource({"0,1", "62,63", "63,65", "4093,4095", "4094,4097", "1048572,1048575", "1048573,1048577"})
    void pkgLengthForCountsItsOwnBytes(int body, int expected) {
        assertEquals(expected, AmlWriter.pkgLengthFor(body));
    }

    @Test
    void pkgLengthLimit() {
        assertEquals(4, AmlWriter.pkgLengthSize(0x0FFF_FFFF));
        assertThrows(IllegalArgumentException.class, () -> AmlWriter.pkgLengthSize(0x1000_0000));
    }

    @Test
    void fieldWidthsAreBarePkgLengths() {
        assertArrayEquals(b(0x08), new AmlWriter().pkgLengthValue(8).toByteArray());
        assertArrayEquals(b(0x3F), new AmlWriter().pkgLengthValue(63).toByteArray());
        assertArrayEquals(b(0x40, 0x04), new AmlWriter().pkgLengthValue(64).toByteArray());
    }

    @Test
    void nameSegsArePaddedWithUnderscores() {
        assertArrayEquals(b('_', 'S', '5', '_'), new AmlWriter().nameString("_S5").toByteArray());
        assertArrayEquals(b('A', '_', '_', '_'), new AmlWriter().nameString("A").toByteArray());
        assertArrayEquals(b('C', 'O', 'M', '1'), new AmlWriter().nameString("COM1").toByteArray());
    }

    @Test
    void rootAndParentPrefixes() {
        assertArrayEquals(b(0x5C, '_', 'S', 'B', '_'), new AmlWriter().nameString("\\_SB").toByteArray());
        assertArrayEquals(b(0x5E, 0x5E, 'F', 'O', 'O', '_'), new AmlWriter().nameString("^^FOO").toByteArray());
        assertArrayEquals(b(0x5C, 0x00), new AmlWriter().nameString("\\").toByteArray());
    }

    @Test
    void dualAndMultiNamePaths() {
        assertArrayEquals(b(0x5C, 0x2E, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'),
            new AmlWriter().nameString("\\_SB.PCI0").toByteArray());
        assertArrayEquals(b(0x5C, 0x2F, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S', '0', '8', '_'),
            new AmlWriter().nameString("\\_SB.PCI0.S08").toByteArray());
        assertArrayEquals(b(0x5E, 0x2E, 'A', 'B', '_', '_', 'C', '_', '_', '_'),
            new AmlWriter().nameString("^AB.C").toByteArray());
    }

    @ParameterizedTest
    @ValueSource(strings = {"1ABC", "ABCDE", "abc", "A-B", "\\_SB..X", "_SB.", "A B"})
    void badNamesAreRejected(String name) {
        assertThrows(IllegalArgumentException.class, () -> new AmlWriter().nameString(name));
    }

    @Test
    void integersTakeTheShortestEncoding() {
        assertArrayEquals(b(0x00), new AmlWriter().integer(0).toByteArray());
        assertArrayEquals(b(0x01), new AmlWriter().integer(1).toByteArray());
        assertArrayEquals(b(0xFF), new AmlWriter().integer(-1).toByteArray());
        assertArrayEquals(b(0x0A, 0x02), new AmlWriter().integer(2).toByteArray());
        assertArrayEquals(b(0x0A, 0xFF), new AmlWriter().integer(0xFF).toByteArray());
        assertArrayEquals(b(0x0B, 0x00, 0x01), new AmlWriter().integer(0x100).toByteArray());
        assertArrayEquals(b(0x0B, 0xFF, 0xFF), new AmlWriter().integer(0xFFFF).toByteArray());
        assertArrayEquals(b(0x0C, 0x00, 0x00, 0x01, 0x00), new AmlWriter().integer(0x10000).toByteArray());
        assertArrayEquals(b(0x0C, 0xFF, 0xFF, 0xFF, 0xFF), new AmlWriter().integer(0xFFFF_FFFFL).toByteArray());
        assertArrayEquals(b(0x0E, 0, 0, 0, 0, 1, 0, 0, 0), new AmlWriter().integer(0x1_0000_0000L).toByteArray());
        assertArrayEquals(b(0x0E, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF),
            new AmlWriter().integer(-2).toByteArray());
    }

    @Test
    void explicitIntegerPrefixes() {
        assertArrayEquals(b(0x0A, 0x00), new AmlWriter().byteConst(0).toByteArray());
        assertArrayEquals(b(0x0B, 0x01, 0x00), new AmlWriter().wordConst(1).toByteArray());
        assertArrayEquals(b(0x0C, 0x78, 0x56, 0x34, 0x12), new AmlWriter().dwordConst(0x12345678).toByteArray());
        assertArrayEquals(b(0x0E, 8, 7, 6, 5, 4, 3, 2, 1), new AmlWriter().qwordConst(0x0102030405060708L).toByteArray());
        assertArrayEquals(b(0x00, 0x01, 0xFF), new AmlWriter().zero().one().ones().toByteArray());
    }

    @Test
    void stringsAreNulTerminated() {
        assertArrayEquals(b(0x0D, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0), new AmlWriter().string("LNRO0005").toByteArray());
        assertThrows(IllegalArgumentException.class, () -> new AmlWriter().string("caf\u00e9"));
    }

    @Test
    void eisaIdCompressesVendorAndSwapsBytes() {
        assertEquals(0x0105D041L, AmlWriter.eisaIdValue("PNP0501"));
        assertEquals(0x0303D041L, AmlWriter.eisaIdValue("PNP0303"));
        assertEquals(0x030AD041L, AmlWriter.eisaIdValue("PNP0A03"));
        assertEquals(0x080AD041L, AmlWriter.eisaIdValue("PNP0A08"));
        assertArrayEquals(b(0x0C, 0x41, 0xD0, 0x05, 0x01), new AmlWriter().eisaId("PNP0501").toByteArray());
        assertThrows(IllegalArgumentException.class, () -> AmlWriter.eisaIdValue("PNP050"));
        assertThrows(IllegalArgumentException.class, () -> AmlWriter.eisaIdValue("pnp0501"));
        assertThrows(IllegalArgumentException.class, () -> AmlWriter.eisaIdValue("PNP05G1"));
    }

    @Test
    void nameWithPackageCountsElements() {
        byte[] aml = new AmlWriter().name("_S5").beginPackage().integer(5).zero().zero().zero().end().toByteArray();
        // NameOp "_S5_" PackageOp PkgLength(7) NumElements(4) 0x0A 05 00 00 00
        assertArrayEquals(b(0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0A, 0x05, 0x00, 0x00, 0x00), aml);
    }

    @Test
    void nestedPackagesCountOnlyTheirOwnElements() {
        byte[] aml = new AmlWriter().beginPackage()
            .beginPackage().integer(0xFFFF).zero().zero().integer(0x14).end()
            .beginPackage().string("A").end()
            .end().toByteArray();
        byte[] inner1 = b(0x12, 0x09, 0x04, 0x0B, 0xFF, 0xFF, 0x00, 0x00, 0x0A, 0x14);
        byte[] inner2 = b(0x12, 0x05, 0x01, 0x0D, 'A', 0x00);
        byte[] body = cat(b(0x02), inner1, inner2);
        assertArrayEquals(cat(b(0x12, body.length + 1), body), aml);
    }

    @Test
    void bufferCarriesItsSize() {
        assertArrayEquals(b(0x11, 0x06, 0x0A, 0x03, 1, 2, 3), new AmlWriter().buffer(b(1, 2, 3)).toByteArray());
        assertArrayEquals(b(0x11, 0x02, 0x00), new AmlWriter().buffer(new byte[0]).toByteArray());
        // 300 bytes: BufferSize is a WordConst, PkgLength 2 bytes: 300 + 3 + 2 = 305 = 0x131
        byte[] big = new AmlWriter().buffer(new byte[300]).toByteArray();
        assertArrayEquals(b(0x11, 0x41, 0x13, 0x0B, 0x2C, 0x01), java.util.Arrays.copyOf(big, 6));
        assertEquals(306, big.length);
    }

    @Test
    void scopeDeviceAndMethod() {
        byte[] aml = new AmlWriter()
            .beginScope("\\_SB")
            .beginDevice("COM1")
            .beginMethod("_STA", 0, false).returnOp().integer(0x0F).end()
            .end()
            .end().toByteArray();
        byte[] method = b(0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xA4, 0x0A, 0x0F);
        byte[] device = cat(b(0x5B, 0x82, 4 + method.length + 1), b('C', 'O', 'M', '1'), method);
        byte[] scope = cat(b(0x10, 5 + device.length + 1), b(0x5C, '_', 'S', 'B', '_'), device);
        assertArrayEquals(scope, aml);
    }

    @Test
    void methodFlags() {
        byte[] aml = new AmlWriter().beginMethod("_EVT", 1, true).end().toByteArray();
        assertEquals(0x09, aml[6]); // 1 arg | Serialized
        aml = new AmlWriter().beginMethod("M", 7, false, 15).end().toByteArray();
        assertEquals((byte) 0xF7, aml[6]);
        assertThrows(IllegalArgumentException.class, () -> new AmlWriter().beginMethod("M", 8, false));
    }

    @Test
    void opRegionAndField() {
        byte[] region = new AmlWriter().opRegion("PMIO", AmlWriter.SPACE_SYSTEM_IO, 0x600, 12).toByteArray();
        assertArrayEquals(b(0x5B, 0x80, 'P', 'M', 'I', 'O', 0x01, 0x0B, 0x00, 0x06, 0x0A, 0x0C), region);
        byte[] field = new AmlWriter().beginField("PMIO", AmlWriter.ACC_WORD | AmlWriter.UPDATE_WRITE_AS_ZEROS)
            .field("STS", 16).reservedField(16).field("CNT", 16).end().toByteArray();
        byte[] body = b('P', 'M', 'I', 'O', 0x42, 'S', 'T', 'S', '_', 0x10, 0x00, 0x10, 'C', 'N', 'T', '_', 0x10);
        assertArrayEquals(cat(b(0x5B, 0x81, body.length + 1), body), field);
    }

    @Test
    void expressionOpcodes() {
        byte[] aml = new AmlWriter().store().arg(0).local(1)
            .beginIf().lEqual().and().local(1).integer(2).nullTarget().integer(2).notifyOp().nameRef("PWRB").integer(0x80).end()
            .beginElse().returnOp().zero().end()
            .toByteArray();
        byte[] ifBody = b(0x93, 0x7B, 0x61, 0x0A, 0x02, 0x00, 0x0A, 0x02, 0x86, 'P', 'W', 'R', 'B', 0x0A, 0x80);
        byte[] expected = cat(b(0x70, 0x68, 0x61), b(0xA0, ifBody.length + 1), ifBody, b(0xA1, 0x03, 0xA4, 0x00));
        assertArrayEquals(expected, aml);
    }

    private static int sum(byte[] a, int from) {
        int s = 0;
        for (int i = from; i < a.length; i++) {
            s += a[i];
        }
        return s & 0xFF;
    }

    @Test
    void resourceTemplateEndsWithAChecksummedEndTag() {
        byte[] aml = new AmlWriter().beginResourceTemplate().io(0x3F8, 0x3F8, 0, 8).irqNoFlags(4).end().toByteArray();
        byte[] descriptors = b(0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00);
        // BufferOp PkgLength(1 + 2 + 13) BufferSize(0x0A 0x0D) descriptors EndTag
        assertArrayEquals(cat(b(0x11, 0x10, 0x0A, 0x0D), descriptors), java.util.Arrays.copyOf(aml, 4 + descriptors.length));
        assertEquals(0x79, aml[aml.length - 2] & 0xFF);
        assertEquals(0, sum(aml, 4), "the template, EndTag included, sums to zero");

        byte[] zeroed = new AmlWriter().endTagChecksum(false)
            .beginResourceTemplate().irqNoFlags(1).end().toByteArray();
        assertEquals(0, zeroed[zeroed.length - 1]);
    }

    private static byte[] descriptor(java.util.function.Consumer<AmlWriter> d) {
        AmlWriter w = new AmlWriter();
        d.accept(w);
        return w.toByteArray();
    }

    @Test
    void smallDescriptors() {
        assertArrayEquals(b(0x4B, 0x60, 0x00, 0x01), descriptor(w -> w.fixedIo(0x60, 1)));
        assertThrows(IllegalArgumentException.class, () -> new AmlWriter().fixedIo(0x400, 1));
        assertArrayEquals(b(0x22, 0x02, 0x00), descriptor(w -> w.irqNoFlags(1)));
        assertArrayEquals(b(0x23, 0x00, 0x0A, 0x19), descriptor(w -> w.irq(true, true, true, 9, 11)));
        assertArrayEquals(b(0x23, 0x20, 0x00, 0x00), descriptor(w -> w.irq(false, false, false, 5)));
        assertThrows(IllegalArgumentException.class, () -> new AmlWriter().irqNoFlags(16));
    }

    @Test
    void largeDescriptors() {
        assertArrayEquals(b(0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xB0, 0xFE, 0x00, 0x02, 0x00, 0x00),
            descriptor(w -> w.memory32Fixed(true, 0xFEB00000L, 0x200)));
        // Consumer | Level | ActiveHigh | Exclusive = 0x01; one GSI
        assertArrayEquals(b(0x89, 0x06, 0x00, 0x01, 0x01, 0x10, 0x00, 0x00, 0x00),
            descriptor(w -> w.extendedInterrupt(true, false, false, false, 16)));
        // Consumer | Edge | ActiveLow | Shared = 0x0F; two GSIs
        assertArrayEquals(b(0x89, 0x0A, 0x00, 0x0F, 0x02, 0x05, 0, 0, 0, 0x06, 0, 0, 0),
            descriptor(w -> w.extendedInterrupt(true, true, true, true, 5, 6)));
        byte[] bus = descriptor(w -> w.wordBusNumber(0, 0xFF));
        assertArrayEquals(b(0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0x00, 0x01), bus);
        byte[] io = descriptor(w -> w.wordIo(0x0D00, 0xFFFF));
        assertArrayEquals(b(0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0, 0, 0x00, 0x0D, 0xFF, 0xFF, 0, 0, 0x00, 0xF3), io);
        byte[] d = descriptor(w -> w.dwordMemory(AmlWriter.MEM_NON_CACHEABLE, 0xC0000000L, 0xFEBFFFFFL));
        assertEquals(26, d.length);
        assertArrayEquals(b(0x87, 0x17, 0x00, 0x00, 0x0C, 0x01), java.util.Arrays.copyOf(d, 6));
        byte[] q = descriptor(w -> w.qwordMemory(AmlWriter.MEM_PREFETCHABLE, 0x80_0000_0000L, 0xFF_FFFF_FFFFL));
        assertEquals(46, q.length);
        assertArrayEquals(b(0x8A, 0x2B, 0x00, 0x00, 0x0C, 0x07), java.util.Arrays.copyOf(q, 6));
        // length field at offset 38: 0x80_0000_0000
        assertEquals(0x80, q[38 + 4] & 0xFF);
    }

    @Test
    void unbalancedObjectsAreCaught() {
        assertThrows(IllegalStateException.class, () -> new AmlWriter().beginScope("\\_SB").toByteArray());
        assertThrows(IllegalStateException.class, () -> new AmlWriter().end());
    }

    @Test
    void tooManyPackageElements() {
        AmlWriter w = new AmlWriter().beginPackage();
        for (int i = 0; i < 256; i++) {
            w.zero();
        }
        assertThrows(IllegalStateException.class, w::end);
    }

    @Test
    void deepNestingGrowsTheStack() {
        AmlWriter w = new AmlWriter();
        for (int i = 0; i < 40; i++) {
            w.beginScope("S" + (char) ('A' + i % 26));
        }
        for (int i = 0; i < 40; i++) {
            w.end();
        }
        assertEquals(0, w.depth());
        assertEquals(0x10, w.toByteArray()[0]);
    }

    @Test
    void mutexAcquireReleaseAndShiftLeft() {
        // Mutex (MTX, 3); Acquire (MTX, 0xFFFF); Store (ShiftLeft (One, Arg1), Local0); Release (MTX)
        byte[] aml = new AmlWriter()
            .mutex("MTX", 3)
            .acquire("MTX", 0xFFFF)
            .store().shiftLeft().one().arg(1).nullTarget().local(0)
            .release("MTX")
            .toByteArray();
        assertArrayEquals(b(0x5B, 0x01, 'M', 'T', 'X', '_', 0x03,
            0x5B, 0x23, 'M', 'T', 'X', '_', 0xFF, 0xFF,
            0x70, 0x79, 0x01, 0x69, 0x00, 0x60,
            0x5B, 0x27, 'M', 'T', 'X', '_'), aml);
        assertThrows(IllegalArgumentException.class, () -> new AmlWriter().mutex("MTX", 16));
        assertThrows(IllegalArgumentException.class, () -> new AmlWriter().acquire("MTX", 0x10000));
    }

    @Test
    void methodInvocationIsTheNameThenTheArguments() {
        // \FOO (Arg0, 2)
        byte[] aml = new AmlWriter().call("\\FOO").arg(0).integer(2).toByteArray();
        assertArrayEquals(b(0x5C, 'F', 'O', 'O', '_', 0x68, 0x0A, 0x02), aml);
    }

    // The encodings below are the bytes iasl (20200925) emits for the ASL in the comments;
    // IaslTest compiles the same constructs with the installed iasl and compares.

    @Test
    void uuidBytesSwapTheFirstThreeGroups() {
        // ToUUID ("33DB4D5B-1FF7-401C-9657-7441C03DD766"), the PCI host bridge's _OSC UUID
        byte[] pciHost = b(0x5B, 0x4D, 0xDB, 0x33, 0xF7, 0x1F, 0x1C, 0x40,
            0x96, 0x57, 0x74, 0x41, 0xC0, 0x3D, 0xD7, 0x66);
        assertArrayEquals(pciHost, AmlWriter.uuidBytes("33DB4D5B-1FF7-401C-9657-7441C03DD766"));
        assertArrayEquals(pciHost, AmlWriter.uuidBytes("33db4d5b-1ff7-401c-9657-7441c03dd766"));
        assertArrayEquals(b(3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15),
            AmlWriter.uuidBytes("00010203-0405-0607-0809-0A0B0C0D0E0F"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "33DB4D5B1FF7401C96577441C03DD766", "33DB4D5B-1FF7-401C-9657-7441C03DD76",
        "33DB4D5B-1FF7-401C-9657-7441C03DD7666", "33DB4D5B-1FF7-401C-9657_7441C03DD766",
        "G3DB4D5B-1FF7-401C-9657-7441C03DD766", "{33DB4D5B-1FF7-401C-9657-7441C03DD766}"})
    void badUuidsAreRejected(String uuid) {
        assertThrows(IllegalArgumentException.class, () -> AmlWriter.uuidBytes(uuid));
    }

    private static final String PCI_HOST_UUID = "33DB4D5B-1FF7-401C-9657-7441C03DD766";

    @Test
    void toUuidIsASixteenByteBuffer() {
        // BufferOp PkgLength(19) BufferSize(0x0A 0x10) and the 16 bytes
        assertArrayEquals(cat(b(0x11, 0x13, 0x0A, 0x10), AmlWriter.uuidBytes(PCI_HOST_UUID)),
            new AmlWriter().toUuid(PCI_HOST_UUID).toByteArray());
    }

    @Test
    void createDWordFieldIsTheOpTheBufferTheIndexThenTheName() {
        // CreateDWordField (Arg3, Zero, CDW1); CreateDWordField (Arg3, 0x08, CDW3)
        assertArrayEquals(b(0x8A, 0x6B, 0x00, 'C', 'D', 'W', '1'),
            new AmlWriter().createDWordField().arg(3).integer(0).nameString("CDW1").toByteArray());
        assertArrayEquals(b(0x8A, 0x6B, 0x0A, 0x08, 'C', 'D', 'W', '3'),
            new AmlWriter().createDWordField().arg(3).integer(8).nameString("CDW3").toByteArray());
        // CreateDWordField (\BUF, 0x0100, FLD)
        assertArrayEquals(b(0x8A, 0x5C, 'B', 'U', 'F', '_', 0x0B, 0x00, 0x01, 'F', 'L', 'D', '_'),
            new AmlWriter().createDWordField().nameRef("\\BUF").integer(0x100).nameString("FLD").toByteArray());
    }

    @Test
    void lNotEqualIsLNotOfLEqual() {
        // If ((Arg1 != One)) {}, If ((CDW3 != Local0)) {}
        assertArrayEquals(b(0xA0, 0x05, 0x92, 0x93, 0x69, 0x01),
            new AmlWriter().beginIf().lNotEqual().arg(1).one().end().toByteArray());
        assertArrayEquals(b(0xA0, 0x08, 0x92, 0x93, 'C', 'D', 'W', '3', 0x60),
            new AmlWriter().beginIf().lNotEqual().nameRef("CDW3").local(0).end().toByteArray());
        // LNot (Arg0) alone
        assertArrayEquals(b(0x92, 0x68), new AmlWriter().lNot().arg(0).toByteArray());
    }

    @Test
    void lEqualOfAnArgAndAUuidBuffer() {
        // If ((Arg0 == ToUUID ("33DB4D5B-1FF7-401C-9657-7441C03DD766"))) {}
        byte[] body = cat(b(0x93, 0x68, 0x11, 0x13, 0x0A, 0x10), AmlWriter.uuidBytes(PCI_HOST_UUID));
        assertArrayEquals(cat(b(0xA0, body.length + 1), body),
            new AmlWriter().beginIf().lEqual().arg(0).toUuid(PCI_HOST_UUID).end().toByteArray());
    }

    @Test
    void compoundAssignmentsAreAndOrWithTheirOperandAsTarget() {
        // Local0 = CDW3; Local0 &= 0x15; CDW1 |= 0x10; CDW3 = Local0
        byte[] aml = new AmlWriter()
            .store().nameRef("CDW3").local(0)
            .and().local(0).integer(0x15).local(0)
            .or().nameRef("CDW1").integer(0x10).nameString("CDW1")
            .store().local(0).nameRef("CDW3")
            .toByteArray();
        assertArrayEquals(b(0x70, 'C', 'D', 'W', '3', 0x60,
            0x7B, 0x60, 0x0A, 0x15, 0x60,
            0x7D, 'C', 'D', 'W', '1', 0x0A, 0x10, 'C', 'D', 'W', '1',
            0x70, 0x60, 'C', 'D', 'W', '3'), aml);
    }
}
