package org.jvisor.devices.pci;

/**
 * A vendor-specific capability (ID 0x09) with fixed contents: the bytes after the ID and next
 * pointer, the first of which is by convention the capability length (virtio-pci's capabilities are
 * of this kind). All bytes are read-only.
 */
public class PciVendorCapability extends PciCapability {

    private final byte[] body;

    /** {@code body} is everything after the 2-byte header; its first byte should be the total length. */
    public PciVendorCapability(byte[] body) {
        super(ID_VENDOR, body.length + 2);
        this.body = body.clone();
    }

    /**
     * A capability from its complete config-space image (ID 0x09 at byte 0, the next pointer at
     * byte 1, which is ignored: the list is linked by {@link PciDevice#addCapability}).
     */
    public static PciVendorCapability fromBytes(byte[] image) {
        if (image.length < 3 || (image[0] & 0xFF) != ID_VENDOR) {
            throw new IllegalArgumentException("not a vendor-specific capability image");
        }
        return new PciVendorCapability(java.util.Arrays.copyOfRange(image, 2, image.length));
    }

    @Override
    protected void initialize() {
        for (int i = 0; i < body.length; i++) {
            config().set8(offset() + 2 + i, body[i]);
        }
    }
}
