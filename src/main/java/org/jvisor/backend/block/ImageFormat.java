package org.jvisor.backend.block;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Disk image formats as QEMU's probing sees them (block.c bdrv_probe_all over the first 512
 * bytes): jvisor opens raw and qcow2; the others are recognised only so that such an image is
 * refused by name instead of being served as raw bytes.
 */
public enum ImageFormat {
    RAW("raw"),
    QCOW2("qcow2"),
    QCOW("qcow"),
    QED("qed"),
    VMDK("vmdk"),
    VDI("vdi"),
    VHDX("vhdx"),
    VPC("vpc");

    /** QEMU's probe buffer: the first sector. */
    public static final int PROBE_BYTES = 512;

    private final String qemuName;

    ImageFormat(String qemuName) {
        this.qemuName = qemuName;
    }

    public String qemuName() {
        return qemuName;
    }

    /** The format the first {@code length} bytes of an image show (RAW when nothing matches). */
    public static ImageFormat probe(byte[] head, int length) {
        ByteBuffer b = ByteBuffer.wrap(head, 0, length);
        if (length >= 8 && b.getInt(0) == 0x514649FB) {   // "QFI\xfb" and a version
            return b.getInt(4) == 1 ? QCOW : QCOW2;
        }
        if (length >= 4 && b.getInt(0) == 0x51454400) {   // "QED\0"
            return QED;
        }
        if (length >= 4 && (b.getInt(0) == 0x4B444D56 || startsWith(head, length, "# Disk DescriptorFile"))) {
            return VMDK;                                   // "KDMV" sparse extent or a descriptor
        }
        if (length >= 0x44 && b.order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0x40) == 0xBEDA107F) {
            return VDI;
        }
        if (startsWith(head, length, "vhdxfile")) {
            return VHDX;
        }
        if (startsWith(head, length, "conectix")) {
            return VPC;
        }
        return RAW;
    }

    /** The format named by QEMU's {@code format=} spelling, or null. */
    public static ImageFormat byName(String name) {
        for (ImageFormat f : values()) {
            if (f.qemuName.equals(name)) {
                return f;
            }
        }
        return null;
    }

    private static boolean startsWith(byte[] head, int length, String magic) {
        byte[] m = magic.getBytes(StandardCharsets.US_ASCII);
        if (length < m.length) {
            return false;
        }
        for (int i = 0; i < m.length; i++) {
            if (head[i] != m[i]) {
                return false;
            }
        }
        return true;
    }
}
