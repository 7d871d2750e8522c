package org.jvisor.boot.linux;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.boot.BootException;
import org.jvisor.memory.GuestMemory.RamRange;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class BootParamsTest {

    @Test
    void carriesTheKernelsHeaderAndTheLoadersFields() throws BootException {
        TestImages.BzImage bz = new TestImages.BzImage();
        bz.loadflags = SetupHeader.LOADED_HIGH | SetupHeader.QUIET_FLAG;
        byte[] file = bz.build();
        SetupHeader h = SetupHeader.parse(file, "k");
        E820Map map = E820Map.build(List.of(new RamRange(0, 64L << 20, 0)), List.of());
        BootParams p = BootParams.forKernel(h).loader(0x100_0000).cmdline(0x1_2002_0000L)
            .ramdisk(0x1_0000_0000L + 0x5000, 0x1_0000_0010L).acpiRsdp(0xE0000).e820(map);
        byte[] page = p.bytes();
        assertEquals(4096, page.length);

        // Untouched header bytes are the file's, byte for byte, and nothing lies before 0x1F1 but what we wrote.
        byte[] expected = Arrays.copyOfRange(file, 0x1F1, 0x26C);
        byte[] actual = Arrays.copyOfRange(page, 0x1F1, 0x26C);
        for (int off : new int[] {0x1FA, 0x210, 0x211, 0x214, 0x218, 0x21C, 0x224, 0x228}) {
            int w = off == 0x210 || off == 0x211 ? 1 : off == 0x1FA || off == 0x224 ? 2 : 4;
            for (int i = 0; i < w; i++) {
                expected[off - 0x1F1 + i] = 0;
                actual[off - 0x1F1 + i] = 0;
            }
        }
        assertArrayEquals(expected, actual);
        assertEquals(0xAA55, p.u16(SetupHeader.OFF_BOOT_FLAG));
        assertEquals(SetupHeader.HDRS_MAGIC, (int) p.u32(SetupHeader.OFF_HEADER));

        assertEquals(0xFF, p.u8(SetupHeader.OFF_TYPE_OF_LOADER));
        assertEquals(SetupHeader.LOADED_HIGH | SetupHeader.CAN_USE_HEAP, p.u8(SetupHeader.OFF_LOADFLAGS), "QUIET cleared");
        assertEquals(0xFFFF, p.u16(SetupHeader.OFF_VID_MODE));
        assertEquals(0xDE00, p.u16(SetupHeader.OFF_HEAP_END_PTR));
        assertEquals(0x100_0000, p.u32(SetupHeader.OFF_CODE32_START));
        assertEquals(0x2002_0000L, p.u32(SetupHeader.OFF_CMD_LINE_PTR));
        assertEquals(1, p.u32(BootParams.OFF_EXT_CMD_LINE_PTR));
        assertEquals(0x5000, p.u32(SetupHeader.OFF_RAMDISK_IMAGE));
        assertEquals(1, p.u32(BootParams.OFF_EXT_RAMDISK_IMAGE));
        assertEquals(0x10, p.u32(SetupHeader.OFF_RAMDISK_SIZE));
        assertEquals(1, p.u32(BootParams.OFF_EXT_RAMDISK_SIZE));
        assertEquals(0xE0000, p.u64(BootParams.OFF_ACPI_RSDP_ADDR));

        assertEquals(3, p.u8(BootParams.OFF_E820_ENTRIES));
        int t = BootParams.OFF_E820_TABLE;
        assertEquals(0, p.u64(t));
        assertEquals(0x9FC00, p.u64(t + 8));
        assertEquals(1, p.u32(t + 16));
        assertEquals(0x9FC00, p.u64(t + 20));
        assertEquals(0x100000 - 0x9FC00, p.u64(t + 28));
        assertEquals(2, p.u32(t + 36));
        assertEquals(0x100000, p.u64(t + 40));
        assertEquals((64L << 20) - 0x100000, p.u64(t + 48));
        assertEquals(1, p.u32(t + 56));
        assertEquals(0, p.u8(BootParams.OFF_SENTINEL));
    }

    @Test
    void synthesizesAHeaderForAVmlinux() {
        BootParams p = BootParams.synthesized(0x200000, 2047, 0x7FFF_FFFFL).loader(0x100_0000);
        assertEquals(0xAA55, p.u16(SetupHeader.OFF_BOOT_FLAG));
        assertEquals(SetupHeader.HDRS_MAGIC, (int) p.u32(SetupHeader.OFF_HEADER));
        assertEquals(0x020F, p.u16(SetupHeader.OFF_VERSION));
        assertEquals(0x26C, 0x202 + p.u8(SetupHeader.OFF_JUMP + 1));
        assertEquals(0x200000, p.u32(SetupHeader.OFF_KERNEL_ALIGNMENT));
        assertEquals(2047, p.u32(SetupHeader.OFF_CMDLINE_SIZE));
        assertEquals(0x7FFF_FFFFL, p.u32(SetupHeader.OFF_INITRD_ADDR_MAX));
        assertEquals(SetupHeader.XLF_KERNEL_64, p.u16(SetupHeader.OFF_XLOADFLAGS));
        assertEquals(0xFF, p.u8(SetupHeader.OFF_TYPE_OF_LOADER));
        assertEquals(SetupHeader.LOADED_HIGH | SetupHeader.CAN_USE_HEAP, p.u8(SetupHeader.OFF_LOADFLAGS));
    }
}
