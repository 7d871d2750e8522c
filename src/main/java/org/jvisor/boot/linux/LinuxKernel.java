package org.jvisor.boot.linux;

import org.jvisor.boot.BootException;
import org.jvisor.boot.ElfImage;

/**
 * A Linux kernel read, validated and (if asked) decompressed once, ready to be loaded into RAM at
 * every boot and reboot by {@link LinuxBoot#load(org.jvisor.memory.GuestMemory, LinuxKernel, byte[], String, long, java.util.List)}.
 * Immutable: the bytes it holds are never written.
 */
public final class LinuxKernel {
    private final LinuxBootResult.Kind kind;
    private final byte[] file;
    private final SetupHeader header;
    private final ElfImage elf;
    private final byte[] elfBytes;
    private final PayloadDecompressor.Format payloadFormat;
    private final long decompressNanos;

    private LinuxKernel(LinuxBootResult.Kind kind, byte[] file, SetupHeader header, ElfImage elf, byte[] elfBytes,
                        PayloadDecompressor.Format payloadFormat, long decompressNanos) {
        this.kind = kind;
        this.file = file;
        this.header = header;
        this.elf = elf;
        this.elfBytes = elfBytes;
        this.payloadFormat = payloadFormat;
        this.decompressNanos = decompressNanos;
    }

    /**
     * Recognises {@code kernelFile} (bzImage by "HdrS" at 0x202, else ELF vmlinux) and validates it;
     * with {@code decompressOnHost} a bzImage's payload is decompressed now and its vmlinux parsed.
     * The array is kept, not copied: the caller must not change it afterwards.
     */
    public static LinuxKernel prepare(byte[] kernelFile, boolean decompressOnHost) throws BootException {
        if (SetupHeader.looksLikeBzImage(kernelFile)) {
            SetupHeader h = SetupHeader.parse(kernelFile, "kernel");
            if (!decompressOnHost) {
                return new LinuxKernel(LinuxBootResult.Kind.BZIMAGE, kernelFile, h, null, null, null, 0);
            }
            if (h.payloadLength() == 0) {
                throw new BootException(
                    "kernel: the setup header gives no payload (payload_length is 0); boot with decompressOnHost=false");
            }
            int off = (int) (h.protectedModeOffset() + h.payloadOffset());
            PayloadDecompressor.Result r = PayloadDecompressor.decompress(kernelFile, off, (int) h.payloadLength(), "kernel payload");
            ElfImage elf = ElfImage.parse(r.vmlinux(), "kernel payload (decompressed vmlinux)");
            LinuxBoot.physicalEntry(elf, "kernel payload (decompressed vmlinux)");
            return new LinuxKernel(LinuxBootResult.Kind.BZIMAGE_HOST_DECOMPRESSED, kernelFile, h, elf, r.vmlinux(), r.format(),
                r.nanos());
        }
        if (ElfImage.looksLikeElf(kernelFile)) {
            ElfImage elf = ElfImage.parse(kernelFile, "kernel (vmlinux)");
            LinuxBoot.physicalEntry(elf, "kernel (vmlinux)");
            return new LinuxKernel(LinuxBootResult.Kind.VMLINUX, kernelFile, null, elf, kernelFile, null, 0);
        }
        throw new BootException("kernel is neither a Linux bzImage (no \"HdrS\" at 0x202) nor an ELF vmlinux ("
            + kernelFile.length + " bytes, starts with "
            + PayloadDecompressor.hex(kernelFile, 0, Math.min(8, kernelFile.length)) + ")");
    }

    /**
     * True if {@code kernelFile} is a bzImage whose payload this host can decompress (gzip, LZ4
     * legacy or uncompressed); false for a vmlinux, a zstd/xz/lzma/bzip2/lzo payload or anything
     * unparseable. For a machine that prefers host decompression but should still boot such kernels
     * the guest's way: {@code prepare(file, preferHost && canDecompressOnHost(file))}.
     */
    public static boolean canDecompressOnHost(byte[] kernelFile) {
        if (!SetupHeader.looksLikeBzImage(kernelFile)) {
            return false;
        }
        try {
            SetupHeader h = SetupHeader.parse(kernelFile, "kernel");
            int off = (int) (h.protectedModeOffset() + h.payloadOffset());
            return h.payloadLength() > 0 && PayloadDecompressor.detect(kernelFile, off, (int) h.payloadLength()).supported;
        } catch (BootException e) {
            return false;
        }
    }

    public LinuxBootResult.Kind kind() {
        return kind;
    }

    /** The bzImage's setup header; null for a vmlinux. */
    public SetupHeader header() {
        return header;
    }

    /** The vmlinux to load (decompressed or given); null for a bzImage the guest decompresses. */
    public ElfImage elf() {
        return elf;
    }

    /** The payload's format when decompressed on the host, else null. */
    public PayloadDecompressor.Format payloadFormat() {
        return payloadFormat;
    }

    public long decompressNanos() {
        return decompressNanos;
    }

    /** Size of the vmlinux ELF bytes (0 for a bzImage loaded as it is). */
    public int vmlinuxSize() {
        return elfBytes == null ? 0 : elfBytes.length;
    }

    byte[] file() {
        return file;
    }

    byte[] elfBytes() {
        return elfBytes;
    }
}
