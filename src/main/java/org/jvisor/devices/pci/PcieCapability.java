package org.jvisor.devices.pci;

/**
 * The PCI Express capability (PCIe base spec 7.5.3), version 2, of a Root Complex Integrated
 * Endpoint: a function on the root bus that is PCI Express without a link (so the link and slot
 * registers read 0, 7.5.3.6-7.5.3.11). Its presence is what gives the function the configuration
 * space above 0x100 (Linux's pci_cfg_space_size reads it only for PCI Express functions), where
 * its extended capabilities live. Device Capabilities: 128-byte payloads, role-based error
 * reporting; Device Control takes the error reporting enables, relaxed ordering, payload and read
 * request sizes, extended tags and no snoop; Device Status has write-1-to-clear error bits.
 */
public final class PcieCapability extends PciCapability {
    public static final int LENGTH = 0x3C;
    static final int CAPABILITIES = 0x02, DEVICE_CAPABILITIES = 0x04, DEVICE_CONTROL = 0x08, DEVICE_STATUS = 0x0A;
    /** Device/port type 1001b: Root Complex Integrated Endpoint (7.5.3.2). */
    public static final int TYPE_RC_INTEGRATED_ENDPOINT = 9;
    private static final int VERSION = 2;
    private static final int ROLE_BASED_ERROR_REPORTING = 1 << 15;
    /** Error reporting enables 3:0, relaxed ordering 4, max payload 7:5, extended tags 8, no snoop 11, max read request 14:12. */
    private static final int DEVICE_CONTROL_WRITABLE = 0x79FF;
    /** Relaxed ordering and no snoop enabled, 512-byte read requests: the spec's defaults (7.5.3.4). */
    private static final int DEVICE_CONTROL_DEFAULT = 0x2810;

    public PcieCapability() {
        super(ID_PCIE, LENGTH);
    }

    @Override
    protected void initialize() {
        int o = offset();
        config().set16(o + CAPABILITIES, VERSION | TYPE_RC_INTEGRATED_ENDPOINT << 4);
        config().set32(o + DEVICE_CAPABILITIES, ROLE_BASED_ERROR_REPORTING);
        config().setWritable(o + DEVICE_CONTROL, 2, DEVICE_CONTROL_WRITABLE);
        config().setWriteOneToClear(o + DEVICE_STATUS, 2, 0xF);
        reset();
    }

    @Override
    protected void reset() {
        config().set16(offset() + DEVICE_CONTROL, DEVICE_CONTROL_DEFAULT);
    }
}
