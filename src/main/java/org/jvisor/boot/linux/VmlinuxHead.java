package org.jvisor.boot.linux;

import java.util.Arrays;

/**
 * A {@link PayloadSink} for the validating pass over a compressed payload: it keeps only the start
 * of the vmlinux (the ELF header, then as far as the program header table reaches, at most
 * {@link #LIMIT} bytes) and counts the rest, so that the ELF can be parsed and checked without
 * holding the decompressed kernel.
 */
final class VmlinuxHead implements PayloadSink {
    /** The ELF64 header's size (gABI "ELF Header"): e_phoff, e_phentsize and e_phnum lie within it. */
    static final int ELF_HEADER = 64;
    /** The most read ahead for the program header table; vmlinux has it right after the ELF header. */
    static final int LIMIT = 1 << 20;

    private byte[] head = new byte[ELF_HEADER];
    private int have;
    private long want = ELF_HEADER;
    private boolean sized;
    private long length;

    @Override
    public void accept(byte[] b, int off, int len, long position) {
        length = position + len;
        while (have < want && position + len > have) {
            // The stream has no gaps and we have taken everything so far, so position <= have.
            int from = (int) (have - position);
            int n = (int) Math.min(want - have, len - from);
            if (have + n > head.length) {
                head = Arrays.copyOf(head, (int) want);
            }
            System.arraycopy(b, off + from, head, have, n);
            have += n;
            if (!sized && have >= ELF_HEADER) {
                sized = true;
                want = Math.max(ELF_HEADER, Math.min(LIMIT, programHeadersEnd()));
            }
        }
    }

    /** Where e_phoff + e_phnum * e_phentsize ends (gABI "ELF Header"); the parser judges whether it is sane. */
    private long programHeadersEnd() {
        long phoff = SetupHeader.u32(head, 32) | SetupHeader.u32(head, 36) << 32;
        long end = phoff + (long) SetupHeader.le16(head, 54) * SetupHeader.le16(head, 56);
        return phoff < 0 || end < 0 ? ELF_HEADER : end;
    }

    /** The bytes kept: the first min(length, what the headers need) bytes of the vmlinux. */
    byte[] head() {
        return have == head.length ? head : Arrays.copyOf(head, have);
    }

    /** How many bytes the whole stream held. */
    long length() {
        return length;
    }
}
