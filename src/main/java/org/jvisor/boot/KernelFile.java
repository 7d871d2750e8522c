package org.jvisor.boot;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading a -kernel file and telling which of the formats we know it is. */
public final class KernelFile {
    /** Kernels larger than this are certainly not kernels. */
    private static final long MAX_SIZE = 512L << 20;

    public enum Format {
        /** An ELF64 that is not Linux: a test guest entered in 64-bit mode. */
        TEST_ELF,
        /** A Linux bzImage ("HdrS" setup header). */
        BZIMAGE,
        /** An ELF vmlinux with the PVH entry note. */
        PVH_ELF
    }

    public record Loaded(Path path, byte[] bytes, Format format) {
    }

    private KernelFile() {
    }

    public static Loaded read(Path path) throws BootException {
        byte[] bytes;
        try {
            if (Files.isDirectory(path)) {
                throw new BootException("kernel " + path + " is a directory");
            }
            long size = Files.size(path);
            if (size > MAX_SIZE) {
                throw new BootException("kernel " + path + " is " + (size >> 20) + " MiB: too large to be a kernel");
            }
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new BootException("kernel " + path + " does not exist");
        } catch (AccessDeniedException e) {
            throw new BootException("kernel " + path + " cannot be read: permission denied");
        } catch (IOException e) {
            throw new BootException("kernel " + path + " cannot be read: " + e.getMessage());
        }
        return new Loaded(path, bytes, detect(path, bytes));
    }

    static Format detect(Path path, byte[] b) throws BootException {
        if (b.length >= 0x206 && b[0x202] == 'H' && b[0x203] == 'd' && b[0x204] == 'r' && b[0x205] == 'S') {
            return Format.BZIMAGE;
        }
        if (ElfImage.looksLikeElf(b)) {
            ElfImage elf = ElfImage.parse(b, "kernel " + path);
            return elf.hasPvhNote() ? Format.PVH_ELF : Format.TEST_ELF;
        }
        throw new BootException("kernel " + path + " is neither an ELF64 executable nor a Linux bzImage ("
            + b.length + " bytes, starts with " + hexPrefix(b) + ")");
    }

    private static String hexPrefix(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(8, b.length); i++) {
            sb.append(String.format("%02x", b[i] & 0xFF));
        }
        return b.length == 0 ? "nothing (empty file)" : sb.toString();
    }
}
