package org.jvisor.boot.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.jvisor.boot.linux.SetupHeader.*;

/**
 * The 4 KiB zero page, struct boot_params (zero-page.rst; arch/x86/include/uapi/asm/bootparam.h),
 * as the 64-bit boot protocol wants it (boot.rst "64-bit Boot Protocol"): all zero, the kernel's
 * setup header copied in at 0x1F1, then the loader's fields written.
 */
public final class BootParams {
    public static final int SIZE = 4096;

    // zero-page.rst offsets
    public static final int OFF_ACPI_RSDP_ADDR = 0x070;
    public static final int OFF_EXT_RAMDISK_IMAGE = 0x0C0;
    public static final int OFF_EXT_RAMDISK_SIZE = 0x0C4;
    public static final int OFF_EXT_CMD_LINE_PTR = 0x0C8;
    public static final int OFF_E820_ENTRIES = 0x1E8;
    public static final int OFF_SENTINEL = 0x1EF;
    public static final int OFF_E820_TABLE = 0x2D0;
    public static final int E820_ENTRY_SIZE = 20;

    /** boot.rst "type_of_loader": 0xFF is "undefined", for loaders without an assigned id. */
    public static final int LOADER_UNDEFINED = 0xFF;
    /** boot.rst "Special Command Line Options", vga=normal. */
    public static final int VID_MODE_NORMAL = 0xFFFF;
    /**
     * heap_end_ptr: the end of the setup heap relative to the real-mode code, minus 0x200 (boot.rst
     * sample configuration: heap_end 0xE000). The 64-bit entry never runs the real-mode setup code,
     * so this only has to be a sane value.
     */
    public static final int HEAP_END_PTR = 0xE000 - 0x200;

    /** Protocol version we claim in a header we synthesize for a bare vmlinux (2.15, kernel 5.5+). */
    public static final int SYNTH_VERSION = 0x020F;

    private final byte[] page = new byte[SIZE];
    private final ByteBuffer b = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);

    private BootParams() {
    }

    /** A zero page carrying a bzImage's own setup header (boot.rst "64-bit Boot Protocol", first step). */
    public static BootParams forKernel(SetupHeader h) {
        BootParams p = new BootParams();
        byte[] raw = h.raw();
        System.arraycopy(raw, 0, p.page, OFF_SETUP_SECTS, raw.length);
        return p;
    }

    /**
     * A zero page for a vmlinux, which has no setup header: we write the fields the kernel proper
     * reads (boot_flag, "HdrS", version, kernel_alignment, cmdline_size, initrd_addr_max), as
     * Firecracker does for its ELF boot.
     */
    public static BootParams synthesized(long kernelAlignment, long cmdlineSize, long initrdAddrMax) {
        BootParams p = new BootParams();
        p.b.putShort(OFF_BOOT_FLAG, (short) BOOT_FLAG);
        p.page[OFF_JUMP] = (byte) 0xEB;
        p.page[OFF_JUMP + 1] = (byte) (MIN_HEADER_END + 8 - OFF_HEADER); // header through kernel_info_offset (0x26C)
        p.b.putInt(OFF_HEADER, HDRS_MAGIC);
        p.b.putShort(OFF_VERSION, (short) SYNTH_VERSION);
        p.page[OFF_LOADFLAGS] = (byte) LOADED_HIGH;
        p.b.putInt(OFF_KERNEL_ALIGNMENT, (int) kernelAlignment);
        p.b.putShort(OFF_XLOADFLAGS, (short) XLF_KERNEL_64);
        p.b.putInt(OFF_CMDLINE_SIZE, (int) cmdlineSize);
        p.b.putInt(OFF_INITRD_ADDR_MAX, (int) initrdAddrMax);
        return p;
    }

    /** The loader's obligatory fields (boot.rst "Details of Header Fields", marked obligatory). */
    public BootParams loader(long code32Start) {
        page[OFF_TYPE_OF_LOADER] = (byte) LOADER_UNDEFINED;
        page[OFF_LOADFLAGS] = (byte) ((page[OFF_LOADFLAGS] & ~(QUIET_FLAG | KASLR_FLAG)) | LOADED_HIGH | CAN_USE_HEAP);
        b.putShort(OFF_HEAP_END_PTR, (short) HEAP_END_PTR);
        b.putShort(OFF_VID_MODE, (short) VID_MODE_NORMAL);
        b.putInt(OFF_CODE32_START, (int) code32Start);
        return this;
    }

    public BootParams cmdline(long addr) {
        b.putInt(OFF_CMD_LINE_PTR, (int) addr);
        b.putInt(OFF_EXT_CMD_LINE_PTR, (int) (addr >>> 32));
        return this;
    }

    public BootParams ramdisk(long addr, long size) {
        b.putInt(OFF_RAMDISK_IMAGE, (int) addr);
        b.putInt(OFF_EXT_RAMDISK_IMAGE, (int) (addr >>> 32));
        b.putInt(OFF_RAMDISK_SIZE, (int) size);
        b.putInt(OFF_EXT_RAMDISK_SIZE, (int) (size >>> 32));
        return this;
    }

    /** The first node of the setup_data list (boot.rst "setup_data"; protocol 2.09, which every kernel we boot has). */
    public BootParams setupData(long addr) {
        b.putLong(OFF_SETUP_DATA, addr);
        return this;
    }

    public BootParams acpiRsdp(long addr) {
        b.putLong(OFF_ACPI_RSDP_ADDR, addr);
        return this;
    }

    public BootParams e820(E820Map map) {
        if (map.entries().size() > E820Map.MAX_ENTRIES) {
            throw new IllegalArgumentException("e820 map too large: " + map.entries().size());
        }
        b.put(OFF_E820_ENTRIES, (byte) map.entries().size());
        int p = OFF_E820_TABLE;
        for (E820Map.Entry e : map.entries()) {
            b.putLong(p, e.addr());
            b.putLong(p + 8, e.size());
            b.putInt(p + 16, e.type().code);
            p += E820_ENTRY_SIZE;
        }
        return this;
    }

    /** A copy of the page, to write into guest RAM. */
    public byte[] bytes() {
        return page.clone();
    }

    public int u8(int off) {
        return page[off] & 0xFF;
    }

    public int u16(int off) {
        return Short.toUnsignedInt(b.getShort(off));
    }

    public long u32(int off) {
        return Integer.toUnsignedLong(b.getInt(off));
    }

    public long u64(int off) {
        return b.getLong(off);
    }
}
