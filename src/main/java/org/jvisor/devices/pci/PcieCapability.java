package org.jvisor.devices.pci;

/**
 * The PCI Express capability (PCIe base spec 7.5.3), version 2, of a Root Complex Integrated
 * Endpoint or of a Root Port. Its presence is what gives the function the configuration space
 * above 0x100 (Linux's pci_cfg_space_size reads it only for PCI Express functions), where its
 * extended capabilities live. Device Capabilities: 128-byte payloads, role-based error reporting;
 * Device Control takes the error reporting enables, relaxed ordering, payload and read request
 * sizes, extended tags and no snoop; Device Status has write-1-to-clear error bits.
 * <ul>
 * <li>An integrated endpoint is on the root bus without a link, so the link and slot registers
 * read 0 (7.5.3.6-7.5.3.11).</li>
 * <li>A root port has an x1 2.5 GT/s link, trained (Link Status shows the negotiated speed and
 * width), its port number in Link Capabilities 31:24; Link Control takes ASPM control, common
 * clock and extended synch; a slot (Slot Implemented) with its physical slot number in Slot
 * Capabilities 31:19; Root Control takes the system error and PME interrupt enables, Root Status
 * has its PME status write-1-to-clear (7.5.3.12-7.5.3.14). The slot's registers beyond that
 * (hot-plug capabilities, Slot Control, Slot Status, the link's Data Link Layer active state)
 * are {@link PcieSlot}'s. The Interrupt Message Number (Capabilities 13:9) is 0: a port's
 * hot-plug events use its first MSI vector (6.7.3.4, 7.5.3.2).</li>
 * </ul>
 */
public final class PcieCapability extends PciCapability {
    public static final int LENGTH = 0x3C;
    static final int CAPABILITIES = 0x02, DEVICE_CAPABILITIES = 0x04, DEVICE_CONTROL = 0x08, DEVICE_STATUS = 0x0A;
    static final int LINK_CAPABILITIES = 0x0C, LINK_CONTROL = 0x10, LINK_STATUS = 0x12;
    static final int SLOT_CAPABILITIES = 0x14, SLOT_CONTROL = 0x18, SLOT_STATUS = 0x1A;
    static final int ROOT_CONTROL = 0x1C, ROOT_STATUS = 0x20;
    /** Device/port type 1001b: Root Complex Integrated Endpoint (7.5.3.2). */
    public static final int TYPE_RC_INTEGRATED_ENDPOINT = 9;
    /** Device/port type 0100b: Root Port of a Root Complex (7.5.3.2). */
    public static final int TYPE_ROOT_PORT = 4;
    private static final int VERSION = 2;
    private static final int SLOT_IMPLEMENTED = 1 << 8;
    private static final int ROLE_BASED_ERROR_REPORTING = 1 << 15;
    /** Error reporting enables 3:0, relaxed ordering 4, max payload 7:5, extended tags 8, no snoop 11, max read request 14:12. */
    private static final int DEVICE_CONTROL_WRITABLE = 0x79FF;
    /** Relaxed ordering and no snoop enabled, 512-byte read requests: the spec's defaults (7.5.3.4). */
    private static final int DEVICE_CONTROL_DEFAULT = 0x2810;
    /** Max link speed 2.5 GT/s (1), max width x1 (bits 9:4). */
    private static final int LINK_X1_GEN1 = 1 | 1 << 4;
    /** ASPM control 1:0, read completion boundary 3, common clock 6, extended synch 7. */
    private static final int LINK_CONTROL_WRITABLE = 0x00CB;
    /** SERR on correctable, non-fatal, fatal error; PME interrupt enable. */
    private static final int ROOT_CONTROL_WRITABLE = 0x000F;
    private static final int ROOT_STATUS_PME = 1 << 16;

    private final int type;
    private final int port;
    private final int slot;

    /** An integrated endpoint's. */
    public PcieCapability() {
        this(TYPE_RC_INTEGRATED_ENDPOINT, 0, 0);
    }

    /**
     * @param type {@link #TYPE_RC_INTEGRATED_ENDPOINT} or {@link #TYPE_ROOT_PORT}
     * @param port a root port's port number (0-255)
     * @param slot a root port's physical slot number (0-8191)
     */
    public PcieCapability(int type, int port, int slot) {
        super(ID_PCIE, LENGTH);
        if (type != TYPE_RC_INTEGRATED_ENDPOINT && type != TYPE_ROOT_PORT) {
            throw new IllegalArgumentException("PCI Express device/port type " + type);
        }
        this.type = type;
        this.port = port;
        this.slot = slot;
    }

    @Override
    protected void initialize() {
        int o = offset();
        boolean rootPort = type == TYPE_ROOT_PORT;
        config().set16(o + CAPABILITIES, VERSION | type << 4 | (rootPort ? SLOT_IMPLEMENTED : 0));
        config().set32(o + DEVICE_CAPABILITIES, ROLE_BASED_ERROR_REPORTING);
        config().setWritable(o + DEVICE_CONTROL, 2, DEVICE_CONTROL_WRITABLE);
        config().setWriteOneToClear(o + DEVICE_STATUS, 2, 0xF);
        if (rootPort) {
            config().set32(o + LINK_CAPABILITIES, LINK_X1_GEN1 | port << 24);
            config().setWritable(o + LINK_CONTROL, 2, LINK_CONTROL_WRITABLE);
            config().set16(o + LINK_STATUS, LINK_X1_GEN1);
            config().set32(o + SLOT_CAPABILITIES, slot << 19);
            config().setWritable(o + ROOT_CONTROL, 2, ROOT_CONTROL_WRITABLE);
            config().setWriteOneToClear(o + ROOT_STATUS, 4, ROOT_STATUS_PME);
        }
        reset();
    }

    @Override
    protected void reset() {
        config().set16(offset() + DEVICE_CONTROL, DEVICE_CONTROL_DEFAULT);
    }
}
