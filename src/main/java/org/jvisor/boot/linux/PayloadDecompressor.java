package org.jvisor.boot.linux;

import org.jvisor.boot.BootException;

/**
 * Host-side decompression of a bzImage payload (boot.rst "payload_offset": the payload's format is
 * told by its magic number, and it decompresses to an ELF vmlinux). gzip and LZ4 (legacy frame) are
 * decoded here; the other formats the kernel build offers are recognised and refused with a reason.
 */
public final class PayloadDecompressor {

    /** Payload formats by their magic numbers (boot.rst "payload_offset"; lib/decompress.c). */
    public enum Format {
        GZIP("gzip", true),
        LZ4_LEGACY("LZ4 (legacy frame)", true),
        XZ("xz", false),
        LZMA("lzma", false),
        BZIP2("bzip2", false),
        ZSTD("zstd", false),
        LZO("lzo", false),
        /** An uncompressed ELF (CONFIG_KERNEL_UNCOMPRESSED). */
        ELF("uncompressed ELF", true),
        UNKNOWN("unknown", false);

        public final String label;
        public final boolean supported;

        Format(String label, boolean supported) {
            this.label = label;
            this.supported = supported;
        }
    }

    /** The decompressed vmlinux and how it was had. */
    public record Result(byte[] vmlinux, Format format, int compressedSize, long nanos) {
    }

    private PayloadDecompressor() {
    }

    public static Format detect(byte[] b, int off, int len) {
        if (startsWith(b, off, len, 0x1F, 0x8B) || startsWith(b, off, len, 0x1F, 0x9E)) {
            return gzipOrOld(b, off, len);
        }
        if (startsWith(b, off, len, 0x02, 0x21, 0x4C, 0x18)) {
            return Format.LZ4_LEGACY;
        }
        if (startsWith(b, off, len, 0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00)) {
            return Format.XZ;
        }
        if (startsWith(b, off, len, 0x5D, 0x00, 0x00)) {
            return Format.LZMA;
        }
        if (startsWith(b, off, len, 'B', 'Z', 'h')) {
            return Format.BZIP2;
        }
        if (startsWith(b, off, len, 0x28, 0xB5, 0x2F, 0xFD)) {
            return Format.ZSTD;
        }
        if (startsWith(b, off, len, 0x89, 0x4C, 0x5A, 0x4F, 0x00)) {
            return Format.LZO;
        }
        if (startsWith(b, off, len, 0x7F, 'E', 'L', 'F')) {
            return Format.ELF;
        }
        return Format.UNKNOWN;
    }

    private static Format gzipOrOld(byte[] b, int off, int len) {
        // 1F 9E is pre-1993 "old gzip", which the kernel's inflate also refuses: report as unknown.
        return (b[off + 1] & 0xFF) == 0x8B ? Format.GZIP : Format.UNKNOWN;
    }

    /** Decompresses {@code b[off, off + len)} to the vmlinux ELF; {@code what} names it in errors. */
    public static Result decompress(byte[] b, int off, int len, String what) throws BootException {
        Format f = detect(b, off, len);
        long t0 = System.nanoTime();
        byte[] out = switch (f) {
            case GZIP -> Gzip.decompress(b, off, len, what);
            case LZ4_LEGACY -> Lz4Legacy.decompress(b, off, len, what);
            case ELF -> java.util.Arrays.copyOfRange(b, off, off + len);
            case UNKNOWN -> throw new BootException(String.format(
                "%s: payload format not recognised (starts with %s); boot with decompressOnHost=false",
                what, hex(b, off, Math.min(len, 8))));
            default -> throw new BootException(what + ": payload compressed with " + f.label
                + ": host-side decompression not supported, boot with decompressOnHost=false");
        };
        long nanos = System.nanoTime() - t0;
        if (!org.jvisor.boot.ElfImage.looksLikeElf(out)) {
            throw new BootException(String.format("%s: the %s payload decompressed to %d bytes that are not an ELF file (start %s)",
                what, f.label, out.length, hex(out, 0, Math.min(out.length, 8))));
        }
        return new Result(out, f, len, nanos);
    }

    /**
     * Decompresses {@code b[off, off + len)} as a stream into {@code sink} (the uncompressed ELF
     * "format" is handed over as it is); returns the format. Errors as {@link #decompress}, except
     * that whether the output is an ELF file is for the sink to judge.
     */
    static Format stream(byte[] b, int off, int len, String what, PayloadSink sink) throws BootException {
        Format f = detect(b, off, len);
        switch (f) {
            case GZIP -> Gzip.stream(b, off, len, what, sink);
            case LZ4_LEGACY -> Lz4Legacy.stream(b, off, len, what, sink);
            case ELF -> sink.accept(b, off, len, 0);
            case UNKNOWN -> throw new BootException(String.format(
                "%s: payload format not recognised (starts with %s); boot with decompressOnHost=false",
                what, hex(b, off, Math.min(len, 8))));
            default -> throw new BootException(what + ": payload compressed with " + f.label
                + ": host-side decompression not supported, boot with decompressOnHost=false");
        }
        return f;
    }

    private static boolean startsWith(byte[] b, int off, int len, int... magic) {
        if (len < magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if ((b[off + i] & 0xFF) != magic[i]) {
                return false;
            }
        }
        return true;
    }

    static String hex(byte[] b, int off, int len) {
        if (len == 0) {
            return "nothing";
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < len; i++) {
            sb.append(String.format(i == 0 ? "%02x" : " %02x", b[off + i] & 0xFF));
        }
        return sb.toString();
    }
}
