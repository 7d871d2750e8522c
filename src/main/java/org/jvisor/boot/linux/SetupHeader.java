package org.jvisor.boot.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.jvisor.boot.BootException;

/**
 * The real-mode setup header of a bzImage, at file offset 0x1F1 (boot.rst, "The Real-Mode Kernel
 * Header" and "Details of Header Fields"), parsed and validated for the 64-bit boot protocol.
 *
 * @param raw            the header bytes exactly as in the file, from 0x1F1 to its end
 *                       (0x202 + the byte at 0x201, boot.rst "32-bit Boot Protocol"); copied into the zero page
 * @param setupSects     setup_sects with the "0 means 4" rule applied
 * @param protectedModeOffset file offset of the protected-mode kernel: (setupSects + 1) * 512
 * @param protectedModeSize   bytes of the file from {@code protectedModeOffset} to its end
 */
public record SetupHeader(
    byte[] raw,
    int setupSects,
    int version,
    long syssize,
    int loadflags,
    long kernelAlignment,
    boolean relocatable,
    int minAlignment,
    int xloadflags,
    long cmdlineSize,
    long initrdAddrMax,
    long payloadOffset,
    long payloadLength,
    long prefAddress,
    long initSize,
    int protectedModeOffset,
    long protectedModeSize) {

    /** Offsets inside struct boot_params / the kernel file (boot.rst header table). */
    public static final int OFF_SETUP_SECTS = 0x1F1;
    public static final int OFF_SYSSIZE = 0x1F4;
    public static final int OFF_VID_MODE = 0x1FA;
    public static final int OFF_BOOT_FLAG = 0x1FE;
    public static final int OFF_JUMP = 0x200;
    public static final int OFF_HEADER = 0x202;
    public static final int OFF_VERSION = 0x206;
    public static final int OFF_TYPE_OF_LOADER = 0x210;
    public static final int OFF_LOADFLAGS = 0x211;
    public static final int OFF_CODE32_START = 0x214;
    public static final int OFF_RAMDISK_IMAGE = 0x218;
    public static final int OFF_RAMDISK_SIZE = 0x21C;
    public static final int OFF_HEAP_END_PTR = 0x224;
    public static final int OFF_CMD_LINE_PTR = 0x228;
    public static final int OFF_INITRD_ADDR_MAX = 0x22C;
    public static final int OFF_KERNEL_ALIGNMENT = 0x230;
    public static final int OFF_RELOCATABLE = 0x234;
    public static final int OFF_MIN_ALIGNMENT = 0x235;
    public static final int OFF_XLOADFLAGS = 0x236;
    public static final int OFF_CMDLINE_SIZE = 0x238;
    public static final int OFF_PAYLOAD_OFFSET = 0x248;
    public static final int OFF_PAYLOAD_LENGTH = 0x24C;
    /** Protocol 2.09: the physical address of the first setup_data node, 0 for none. */
    public static final int OFF_SETUP_DATA = 0x250;
    public static final int OFF_PREF_ADDRESS = 0x258;
    public static final int OFF_INIT_SIZE = 0x260;
    /** The first field this loader reads past init_size: everything up to here must be in the header. */
    public static final int MIN_HEADER_END = 0x264;
    /** Where struct boot_params has its next field (edd_mbr_sig_buffer, zero-page.rst): the header cannot reach past it. */
    public static final int MAX_HEADER_END = 0x290;

    public static final int BOOT_FLAG = 0xAA55;
    /** "HdrS" read as a little-endian u32. */
    public static final int HDRS_MAGIC = 0x5372_6448;
    /** Protocol 2.12 added xloadflags and the 64-bit entry point (boot.rst protocol table). */
    public static final int MIN_VERSION = 0x020C;

    // loadflags (boot.rst "loadflags")
    public static final int LOADED_HIGH = 0x01;
    public static final int KASLR_FLAG = 0x02;
    public static final int QUIET_FLAG = 0x20;
    public static final int KEEP_SEGMENTS = 0x40;
    public static final int CAN_USE_HEAP = 0x80;

    // xloadflags (boot.rst "xloadflags")
    public static final int XLF_KERNEL_64 = 0x01;
    public static final int XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;

    public SetupHeader {
        raw = raw.clone();
    }

    @Override
    public byte[] raw() {
        return raw.clone();
    }

    /** The header's end offset in the file and the zero page (0x202 + jump displacement). */
    public int headerEnd() {
        return OFF_SETUP_SECTS + raw.length;
    }

    /** True if the file looks like a bzImage at all ("HdrS" at 0x202): what {@link #parse} then validates. */
    public static boolean looksLikeBzImage(byte[] file) {
        return file.length >= OFF_HEADER + 4 && le32(file, OFF_HEADER) == HDRS_MAGIC;
    }

    /**
     * Parses and validates the header of {@code file} for booting in 64-bit mode.
     *
     * @param what names the file in error messages
     */
    public static SetupHeader parse(byte[] file, String what) throws BootException {
        if (file.length < OFF_VERSION + 2) {
            throw new BootException(String.format(
                "%s: truncated bzImage: %d bytes, too short to hold a setup header (which starts at 0x1f1)", what, file.length));
        }
        int bootFlag = le16(file, OFF_BOOT_FLAG);
        if (bootFlag != BOOT_FLAG) {
            throw new BootException(String.format(
                "%s: bad boot_flag %#06x at offset 0x1fe (a bzImage has 0xaa55)", what, bootFlag));
        }
        if (le32(file, OFF_HEADER) != HDRS_MAGIC) {
            throw new BootException(String.format(
                "%s: no \"HdrS\" signature at offset 0x202 (found %#010x): a pre-2.00 zImage or not a Linux kernel",
                what, le32(file, OFF_HEADER)));
        }
        int version = le16(file, OFF_VERSION);
        if (version < MIN_VERSION) {
            throw new BootException(String.format(
                "%s: boot protocol %d.%02d is too old: the 64-bit entry point needs 2.12 or later (version at 0x206)",
                what, version >> 8, version & 0xFF));
        }
        int jump = file[OFF_JUMP] & 0xFF;
        int headerEnd = OFF_HEADER + (file[OFF_JUMP + 1] & 0xFF);
        if (jump != 0xEB || headerEnd < MIN_HEADER_END || headerEnd > MAX_HEADER_END) {
            throw new BootException(String.format(
                "%s: the jump at 0x200 (%02x %02x) gives a setup header ending at %#x; protocol %d.%02d needs one ending in [%#x, %#x]",
                what, jump, file[OFF_JUMP + 1] & 0xFF, headerEnd, version >> 8, version & 0xFF, MIN_HEADER_END, MAX_HEADER_END));
        }
        if (file.length < headerEnd) {
            throw new BootException(String.format(
                "%s: truncated bzImage: %d bytes, but the setup header runs to offset %#x", what, file.length, headerEnd));
        }
        byte[] raw = Arrays.copyOfRange(file, OFF_SETUP_SECTS, headerEnd);

        int setupSects = file[OFF_SETUP_SECTS] & 0xFF;
        if (setupSects == 0) {
            setupSects = 4; // boot.rst note (1)
        }
        int pmOffset = (setupSects + 1) * 512;
        if (pmOffset >= file.length) {
            throw new BootException(String.format(
                "%s: truncated bzImage: setup_sects=%d puts the protected-mode kernel at offset %#x, but the file has only %d bytes",
                what, setupSects, pmOffset, file.length));
        }
        long pmSize = file.length - (long) pmOffset;
        long syssize = u32(file, OFF_SYSSIZE);
        if (syssize * 16 > pmSize) {
            throw new BootException(String.format(
                "%s: truncated bzImage: syssize (0x1f4) says the protected-mode kernel is %d bytes, the file holds %d after offset %#x",
                what, syssize * 16, pmSize, pmOffset));
        }
        int loadflags = file[OFF_LOADFLAGS] & 0xFF;
        if ((loadflags & LOADED_HIGH) == 0) {
            throw new BootException(String.format(
                "%s: loadflags %#04x (0x211) lack LOADED_HIGH: a zImage, which must load at 0x10000; only bzImages are supported",
                what, loadflags));
        }
        int xloadflags = le16(file, OFF_XLOADFLAGS);
        if ((xloadflags & XLF_KERNEL_64) == 0) {
            throw new BootException(String.format(
                "%s: xloadflags %#06x (0x236) lack XLF_KERNEL_64: not a 64-bit kernel, it has no 64-bit entry point at +0x200",
                what, xloadflags));
        }
        long kernelAlignment = u32(file, OFF_KERNEL_ALIGNMENT);
        boolean relocatable = file[OFF_RELOCATABLE] != 0;
        if (relocatable && (kernelAlignment == 0 || Long.bitCount(kernelAlignment) != 1)) {
            throw new BootException(String.format(
                "%s: kernel_alignment %#x (0x230) of a relocatable kernel is not a power of two", what, kernelAlignment));
        }
        long prefAddress = le64(file, OFF_PREF_ADDRESS);
        long initSize = u32(file, OFF_INIT_SIZE);
        if (initSize == 0) {
            throw new BootException(what + ": init_size (0x260) is 0: the header does not say how much memory the kernel needs");
        }
        if (initSize < syssize * 16) {
            throw new BootException(String.format(
                "%s: init_size %#x (0x260) is smaller than the kernel itself (%#x bytes)", what, initSize, syssize * 16));
        }
        long payloadOffset = u32(file, OFF_PAYLOAD_OFFSET);
        long payloadLength = u32(file, OFF_PAYLOAD_LENGTH);
        if (payloadOffset + payloadLength > pmSize) {
            throw new BootException(String.format(
                "%s: the payload (payload_offset %#x, payload_length %#x at 0x248) runs past the %d-byte protected-mode kernel",
                what, payloadOffset, payloadLength, pmSize));
        }
        return new SetupHeader(raw, setupSects, version, syssize, loadflags, kernelAlignment, relocatable,
            file[OFF_MIN_ALIGNMENT] & 0xFF, xloadflags, u32(file, OFF_CMDLINE_SIZE), u32(file, OFF_INITRD_ADDR_MAX),
            payloadOffset, payloadLength, prefAddress, initSize, pmOffset, pmSize);
    }

    public String versionString() {
        return String.format("%d.%02d", version >> 8, version & 0xFF);
    }

    @Override
    public String toString() {
        return String.format(
            "SetupHeader[protocol %s, setup_sects %d, syssize %#x, loadflags %#x, xloadflags %#x, kernel_alignment %#x, "
                + "relocatable %b, pref_address %#x, init_size %#x, cmdline_size %d, initrd_addr_max %#x, payload %#x+%#x]",
            versionString(), setupSects, syssize, loadflags, xloadflags, kernelAlignment, relocatable, prefAddress,
            initSize, cmdlineSize, initrdAddrMax, payloadOffset, payloadLength);
    }

    static int le16(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8;
    }

    static int le32(byte[] b, int off) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(off);
    }

    static long u32(byte[] b, int off) {
        return Integer.toUnsignedLong(le32(b, off));
    }

    static long le64(byte[] b, int off) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(off);
    }
}
