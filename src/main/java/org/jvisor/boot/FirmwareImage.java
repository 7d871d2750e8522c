package org.jvisor.boot;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * A PC BIOS image (SeaBIOS): mapped read-only so that it ends at 4 GiB, its last 128 KiB also
 * seen at 0xE0000-0xFFFFF, and the CPU starts at its reset vector 16 bytes below 4 GiB. Checked as
 * QEMU checks a -bios file (not empty, a multiple of 64 KiB, and here at most 16 MiB) and, beyond
 * QEMU, by its reset vector: the first instruction the CPU runs must lead to a jump, or the guest
 * would run whatever bytes a wrong file holds there.
 *
 * @param path  where it was read from
 * @param bytes the whole image
 */
public record FirmwareImage(Path path, byte[] bytes) {
    /** SeaBIOS as Debian's seabios package installs it (QEMU's pc machines use the same file). */
    public static final Path DEFAULT = Path.of("/usr/share/seabios/bios-256k.bin");
    /**
     * The system property naming the firmware booted without -bios, for hosts that install
     * SeaBIOS elsewhere (QEMU's own data directory, /usr/share/qemu/bios-256k.bin, on some
     * distributions); {@link #DEFAULT_ENV} for the launcher's users, {@link #DEFAULT} when neither is set.
     */
    public static final String DEFAULT_PROPERTY = "jvisor.bios";
    public static final String DEFAULT_ENV = "JVISOR_BIOS";
    /** The part of the image that the legacy BIOS area 0xE0000-0xFFFFF shows. */
    public static final int ISA_BIOS_SIZE = 128 << 10;
    public static final long ISA_BIOS_END = 0x10_0000L;
    public static final long MAX_SIZE = 16L << 20;
    /** The reset vector: 16 bytes below the image's end (0xFFFFFFF0, Intel SDM vol. 3, 9.1.4). */
    public static final int RESET_VECTOR = 16;

    /** The firmware booted without -bios: {@value #DEFAULT_PROPERTY}, else ${@value #DEFAULT_ENV}, else {@link #DEFAULT}. */
    public static Path defaultPath() {
        String p = System.getProperty(DEFAULT_PROPERTY);
        if (p == null || p.isBlank()) {
            p = System.getenv(DEFAULT_ENV);
        }
        return p == null || p.isBlank() ? DEFAULT : Path.of(p);
    }

    /** Reads {@code file}, or the {@link #defaultPath()} when null (see {@link #read(Path, Path)}). */
    public static FirmwareImage read(Path file) throws BootException {
        return read(file, defaultPath());
    }

    /**
     * Reads {@code file}, or {@code defaultPath} when null; a missing default names the package to
     * install, and a file that cannot be a BIOS image is refused with the reason.
     */
    public static FirmwareImage read(Path file, Path defaultPath) throws BootException {
        Path p = file == null ? defaultPath : file;
        byte[] b;
        try {
            if (Files.isDirectory(p)) {
                throw new BootException("-bios " + p + ": is a directory");
            }
            b = Files.readAllBytes(p);
        } catch (NoSuchFileException e) {
            if (file == null) {
                throw new BootException("no firmware to boot from: " + p + " is missing (install Debian's "
                    + "seabios package: apt-get install seabios), or give -bios FILE, or -kernel to boot a kernel directly");
            }
            throw new BootException("-bios " + p + ": no such file");
        } catch (IOException e) {
            throw new BootException("-bios " + p + ": cannot be read: " + e.getMessage(), e);
        }
        if (b.length == 0 || b.length % (64 << 10) != 0 || b.length > MAX_SIZE) {
            throw new BootException(String.format("-bios %s: not a BIOS image (%d bytes; a BIOS image is a multiple "
                + "of 64 KiB, at most 16 MiB)", p, b.length));
        }
        if (!jumpsFromResetVector(b, b.length - RESET_VECTOR)) {
            throw new BootException(String.format("-bios %s: not a BIOS image (no x86 jump at its reset vector, offset "
                + "0x%x: %s)", p, b.length - RESET_VECTOR, HexFormat.ofDelimiter(" ").formatHex(b, b.length - RESET_VECTOR,
                b.length - RESET_VECTOR + 8)));
        }
        return new FirmwareImage(p, b);
    }

    /**
     * Whether the 16 bytes at {@code at} are what firmware puts at its reset vector: a jump (far
     * 0xEA, near 0xE9, short 0xEB) that fits in them, after at most a few of the instructions
     * firmware runs first. SeaBIOS starts with the far jump; OVMF with NOPs and a near jump, or
     * (OVMF.fd) with a check of CR0.PE: mov eax,cr0 / test al,imm8 / jz rel8 before its near jump.
     * Anything else (zeros, erased flash, text, another architecture's code) is refused.
     */
    static boolean jumpsFromResetVector(byte[] b, int at) {
        int end = at + RESET_VECTOR;
        boolean wide = false;                            // after 0x66: 32-bit operands in 16-bit code
        for (int i = at; i < end; ) {
            int op = b[i] & 0xFF;
            int len = switch (op) {
                case 0xEA -> wide ? 7 : 5;               // jmp ptr16:16 (ptr16:32)
                case 0xE9 -> wide ? 5 : 3;               // jmp rel16 (rel32)
                case 0xEB -> 2;                          // jmp rel8
                case 0x90, 0xFA, 0xFC, 0x66 -> 1;        // nop, cli, cld, operand-size prefix
                case 0xA8, 0x74, 0x75 -> 2;              // test al,imm8; jz/jnz rel8
                case 0x0F -> i + 2 < end && (b[i + 1] & 0xFF) == 0x20 && (b[i + 2] & 0xC0) == 0xC0 ? 3 : -1; // mov r,crN
                default -> -1;
            };
            if (len < 0) {
                return false;
            }
            if (op == 0xEA || op == 0xE9 || op == 0xEB) {
                return i + len <= end;
            }
            wide = op == 0x66;
            i += len;
        }
        return false;
    }

    /** The last 128 KiB (or the whole image when smaller), which appear below 1 MiB. */
    public byte[] isaBios() {
        int n = Math.min(bytes.length, ISA_BIOS_SIZE);
        byte[] a = new byte[n];
        System.arraycopy(bytes, bytes.length - n, a, 0, n);
        return a;
    }
}
