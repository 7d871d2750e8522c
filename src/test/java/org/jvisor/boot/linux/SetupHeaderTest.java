package org.jvisor.boot.linux;

import java.util.Arrays;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.jvisor.boot.BootException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SetupHeaderTest {

    @Test
    void parsesEveryField() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        bz.payload = new byte[0x1234];
        byte[] f = bz.build();
        SetupHeader h = SetupHeader.parse(f, "k");
        assertEquals(4, h.setupSects());
        assertEquals(0x020F, h.version());
        assertEquals("2.15", h.versionString());
        assertEquals((0x400 + 0x1234) / 16, h.syssize());
        assertEquals(SetupHeader.LOADED_HIGH, h.loadflags());
        assertEquals(0x200000, h.kernelAlignment());
        assertTrue(h.relocatable());
        assertEquals(0x15, h.minAlignment());
        assertEquals(3, h.xloadflags());
        assertEquals(0x7FF, h.cmdlineSize());
        assertEquals(0x7FFF_FFFFL, h.initrdAddrMax());
        assertEquals(0x400, h.payloadOffset());
        assertEquals(0x1234, h.payloadLength());
        assertEquals(0x100_0000, h.prefAddress());
        assertEquals(0x80_0000, h.initSize());
        assertEquals(5 * 512, h.protectedModeOffset());
        assertEquals(0x400 + 0x1234, h.protectedModeSize());
        assertEquals(0x26C, h.headerEnd());
        assertArrayEquals(Arrays.copyOfRange(f, 0x1F1, 0x26C), h.raw());
        assertTrue(h.toString().contains("init_size 0x800000"));
    }

    @Test
    void setupSectsZeroMeansFour() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        bz.rawSetupSects = 0;
        assertEquals(4, SetupHeader.parse(bz.build(), "k").setupSects());
    }

    @Test
    void recognisesBzImagesByTheirSignature() {
        assertTrue(SetupHeader.looksLikeBzImage(new TestImages.BzImage().build()));
        assertFalse(SetupHeader.looksLikeBzImage(new byte[0x300]));
        assertFalse(SetupHeader.looksLikeBzImage(new byte[10]));
    }

    static Stream<Arguments> corruptHeaders() {
        return Stream.of(
            bad("too short for a header", b -> { }, 0x100, "truncated bzImage: 256 bytes"),
            bad("boot flag", b -> b.bootFlag = 0x1234, -1, "bad boot_flag 0x1234 at offset 0x1fe"),
            bad("no HdrS", b -> b.magic = 0x11223344, -1, "no \"HdrS\" signature at offset 0x202"),
            bad("protocol 2.11", b -> b.version = 0x020B, -1, "boot protocol 2.11 is too old"),
            bad("jump too short", b -> b.jumpLength = 0x20, -1, "the jump at 0x200"),
            bad("jump too long", b -> b.jumpLength = 0x90, -1, "the jump at 0x200"),
            bad("header cut off", b -> { }, 0x240, "the setup header runs to offset 0x26c"),
            bad("setup_sects past the end", b -> b.rawSetupSects = 200, -1, "setup_sects=200"),
            bad("syssize past the end", b -> b.syssizeOverride = 0x10000L, -1, "syssize (0x1f4) says"),
            bad("zImage", b -> b.loadflags = 0, -1, "lack LOADED_HIGH"),
            bad("32-bit kernel", b -> b.xloadflags = 0, -1, "lack XLF_KERNEL_64"),
            bad("alignment", b -> b.kernelAlignment = 0x30000, -1, "kernel_alignment 0x30000 (0x230)"),
            bad("no init_size", b -> b.initSize = 0, -1, "init_size (0x260) is 0"),
            bad("init_size below the kernel", b -> b.initSize = 0x100, -1, "is smaller than the kernel itself"),
            bad("payload past the end", b -> b.payloadLengthOverride = 0x10000L, -1, "runs past the"));
    }

    private static Arguments bad(String name, Consumer<TestImages.BzImage> mutate, int cutTo, String message) {
        return Arguments.of(name, mutate, cutTo, message);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corruptHeaders")
    void rejectsCorruptHeadersSayingWhatAndWhere(String name, Consumer<TestImages.BzImage> mutate, int cutTo, String message) {
        TestImages.BzImage bz = new TestImages.BzImage();
        mutate.accept(bz);
        byte[] f = bz.build();
        if (cutTo >= 0) {
            f = Arrays.copyOf(f, cutTo);
        }
        byte[] file = f;
        BootException e = assertThrows(BootException.class, () -> SetupHeader.parse(file, "kernel /x/bzImage"));
        assertTrue(e.getMessage().startsWith("kernel /x/bzImage: "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
