package org.jvisor.boot.linux;

import org.jvisor.boot.BootException;
import org.jvisor.boot.ElfImage;

/**
 * A Linux kernel read and validated once, ready to be loaded into RAM at every boot and reboot by
 * {@link LinuxBoot#load(org.jvisor.memory.GuestMemory, LinuxKernel, byte[], String, long, java.util.List)}.
 * A bzImage decompressed on the host keeps only its file and the vmlinux's ELF headers: each load
 * decompresses the payload again, as a stream, straight into guest RAM (see {@link #streamVmlinux}),
 * so the decompressed kernel (tens of MiB) is never held by jvisor. Immutable: the bytes it holds
 * are never written.
 */
public final class LinuxKernel {
    private static final String PAYLOAD = "kernel payload (decompressed vmlinux)";

    private final LinuxBootResult.Kind kind;
    private final byte[] file;
    private final SetupHeader header;
    private final ElfImage elf;
    /** The vmlinux as an array: only for a kernel given as vmlinux (it is the file itself). */
    private final byte[] elfBytes;
    private final long vmlinuxSize;
    private final PayloadDecompressor.Format payloadFormat;
    private final long decompressNanos;

    private LinuxKernel(LinuxBootResult.Kind kind, byte[] file, SetupHeader header, ElfImage elf, byte[] elfBytes,
                        long vmlinuxSize, PayloadDecompressor.Format payloadFormat, long decompressNanos) {
        this.kind = kind;
        this.file = file;
        this.header = header;
        this.elf = elf;
        this.elfBytes = elfBytes;
        this.vmlinuxSize = vmlinuxSize;
        this.payloadFormat = payloadFormat;
        this.decompressNanos = decompressNanos;
    }

    /**
     * Recognises {@code kernelFile} (bzImage by "HdrS" at 0x202, else ELF vmlinux) and validates it;
     * with {@code decompressOnHost} a bzImage's payload is decompressed once now, through a small
     * buffer and to the end, to check that it decodes and holds a loadable vmlinux; only the
     * vmlinux's ELF headers are kept. The array is kept, not copied: the caller must not change it afterwards.
     */
    public static LinuxKernel prepare(byte[] kernelFile, boolean decompressOnHost) throws BootException {
        if (SetupHeader.looksLikeBzImage(kernelFile)) {
            SetupHeader h = SetupHeader.parse(kernelFile, "kernel");
            if (!decompressOnHost) {
                return new LinuxKernel(LinuxBootResult.Kind.BZIMAGE, kernelFile, h, null, null, 0, null, 0);
            }
            if (h.payloadLength() == 0) {
                throw new BootException(
                    "kernel: the setup header gives no payload (payload_length is 0); boot with decompressOnHost=false");
            }
            int off = payloadOffset(h);
            VmlinuxHead head = new VmlinuxHead();
            long t0 = System.nanoTime();
            PayloadDecompressor.Format format = PayloadDecompressor.stream(kernelFile, off, (int) h.payloadLength(),
                "kernel payload", head);
            long nanos = System.nanoTime() - t0;
            byte[] start = head.head();
            if (!ElfImage.looksLikeElf(start)) {
                throw new BootException(String.format(
                    "kernel payload: the %s payload decompressed to %d bytes that are not an ELF file (start %s)",
                    format.label, head.length(), PayloadDecompressor.hex(start, 0, Math.min(start.length, 8))));
            }
            ElfImage elf = ElfImage.parseHeaders(start, head.length(), PAYLOAD);
            LinuxBoot.physicalEntry(elf, PAYLOAD);
            return new LinuxKernel(LinuxBootResult.Kind.BZIMAGE_HOST_DECOMPRESSED, kernelFile, h, elf, null, head.length(),
                format, nanos);
        }
        if (ElfImage.looksLikeElf(kernelFile)) {
            ElfImage elf = ElfImage.parse(kernelFile, "kernel (vmlinux)");
            LinuxBoot.physicalEntry(elf, "kernel (vmlinux)");
            return new LinuxKernel(LinuxBootResult.Kind.VMLINUX, kernelFile, null, elf, kernelFile, kernelFile.length, null, 0);
        }
        throw new BootException("kernel is neither a Linux bzImage (no \"HdrS\" at 0x202) nor an ELF vmlinux ("
            + kernelFile.length + " bytes, starts with "
            + PayloadDecompressor.hex(kernelFile, 0, Math.min(8, kernelFile.length)) + ")");
    }

    private static int payloadOffset(SetupHeader h) {
        return (int) (h.protectedModeOffset() + h.payloadOffset());
    }

    /**
     * Decompresses the payload of a kernel prepared with host decompression again, as a stream, into
     * {@code sink}; returns how long that took. It decoded once in {@link #prepare}, so a failure
     * here means the file changed under us, which the immutable file rules out.
     */
    long streamVmlinux(PayloadSink sink) throws BootException {
        if (kind != LinuxBootResult.Kind.BZIMAGE_HOST_DECOMPRESSED) {
            throw new IllegalStateException("kernel is " + kind + ", not a bzImage decompressed on the host");
        }
        long t0 = System.nanoTime();
        PayloadDecompressor.stream(file, payloadOffset(header), (int) header.payloadLength(), "kernel payload", sink);
        return System.nanoTime() - t0;
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
            int off = payloadOffset(h);
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

    /** How long the validating decompression in {@link #prepare} took (each load measures its own). */
    public long decompressNanos() {
        return decompressNanos;
    }

    /** Size of the vmlinux ELF bytes (0 for a bzImage loaded as it is). */
    public long vmlinuxSize() {
        return vmlinuxSize;
    }

    byte[] file() {
        return file;
    }

    /** The vmlinux as an array for a kernel given as vmlinux; null for one streamed out of a bzImage. */
    byte[] elfBytes() {
        return elfBytes;
    }
}
