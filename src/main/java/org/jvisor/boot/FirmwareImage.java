package org.jvisor.boot;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A PC BIOS image (SeaBIOS): mapped read-only so that it ends at 4 GiB, its last 128 KiB also
 * seen at 0xE0000-0xFFFFF, and the CPU starts at its reset vector 16 bytes below 4 GiB. Checked as
 * QEMU checks a -bios file: not empty, a multiple of 64 KiB, and here at most 16 MiB.
 *
 * @param path  where it was read from
 * @param bytes the whole image
 */
public record FirmwareImage(Path path, byte[] bytes) {
    /** SeaBIOS as Debian's seabios package installs it (QEMU's pc machines use the same file). */
    public static final Path DEFAULT = Path.of("/usr/share/seabios/bios-256k.bin");
    /** The part of the image that the legacy BIOS area 0xE0000-0xFFFFF shows. */
    public static final int ISA_BIOS_SIZE = 128 << 10;
    public static final long ISA_BIOS_END = 0x10_0000L;
    public static final long MAX_SIZE = 16L << 20;

    /**
     * Reads {@code file}, or {@link #DEFAULT} when null; a missing default names the package to
     * install, and a file that cannot be a BIOS image is refused with the reason.
     */
    public static FirmwareImage read(Path file) throws BootException {
        Path p = file == null ? DEFAULT : file;
        byte[] b;
        try {
            if (Files.isDirectory(p)) {
                throw new BootException("-bios " + p + ": is a directory");
            }
            b = Files.readAllBytes(p);
        } catch (NoSuchFileException e) {
            if (file == null) {
                throw new BootException("no firmware to boot from: " + DEFAULT + " is missing (install Debian's "
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
        return new FirmwareImage(p, b);
    }

    /** The last 128 KiB (or the whole image when smaller), which appear below 1 MiB. */
    public byte[] isaBios() {
        int n = Math.min(bytes.length, ISA_BIOS_SIZE);
        byte[] a = new byte[n];
        System.arraycopy(bytes, bytes.length - n, a, 0, n);
        return a;
    }
}
