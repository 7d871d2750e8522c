package org.jvisor.boot.acpi;

/**
 * The {@code _OSC} (Operating System Capabilities, ACPI 6.5 6.2.11) of the PCI Express host bridge
 * on q35, with which the OS asks the firmware for control of PCI Express features (PCI Firmware
 * spec 3.3, 4.5 "_OSC Interface for PCI Host Bridge Devices"). Without it Linux keeps its hands
 * off them ("_OSC: platform retains control of PCIe features (AE_NOT_FOUND)") and pciehp does not
 * bind to the root ports' slots, so native PCI Express hot-plug needs it. The structure is QEMU
 * 7.2's (acpi-build.c, its q35 DSDT); the control bits granted are jvisor's:
 *
 * <pre>
 * Method (_OSC, 4, NotSerialized)            // Arg0 UUID, Arg1 revision, Arg2 count, Arg3 buffer
 * {
 *     CreateDWordField (Arg3, 0, CDW1)         // status
 *     If (Arg0 == ToUUID ("33DB4D5B-1FF7-401C-9657-7441C03DD766"))   // PCI host bridge
 *     {
 *         CreateDWordField (Arg3, 4, CDW2)     // support: what the OS can do (not consulted)
 *         CreateDWordField (Arg3, 8, CDW3)     // control: what the OS asks for, then what it gets
 *         Local0 = CDW3
 *         Local0 &amp;= 0x15                        // GRANTED (0x14 with ACPI hot-plug)
 *         If (Arg1 != 1) { CDW1 |= 0x08 }      // unrecognized revision
 *         If (CDW3 != Local0) { CDW1 |= 0x10 } // capabilities masked
 *         CDW3 = Local0
 *     }
 *     Else { CDW1 |= 0x04 }                    // unrecognized UUID
 *     Return (Arg3)
 * }
 * </pre>
 *
 * <p>Granted, of the control bits (PCI Firmware spec 4.5, the Control Field):
 * <ul>
 * <li>bit 0, PCI Express native hot-plug: with native hot-plug ({@code
 * -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off}), yes, what it is for
 * ({@code pcie-root-port}'s slot hot-plug, {@link org.jvisor.devices.pci.PcieSlot}). With ACPI PCI
 * hot-plug of the root ports (q35's default) no, as QEMU 7.2 withholds it then (checked on a q35
 * guest: "_OSC: platform does not support [PCIeHotplug LTR]"): the platform keeps hot-plug, so
 * Linux's pciehp leaves the ports' slots (which still say Hot-Plug Capable, as QEMU's do) to
 * acpiphp.</li>
 * <li>bit 1, SHPC native hot-plug: no, jvisor has no Standard Hot-Plug Controller (QEMU grants
 * it for its PCI bridges' SHPC; its q35 ACPI-mode _OSC grants 0x1E, jvisor's 0x14 for this bit
 * and AER's).</li>
 * <li>bit 2, PCI Express native PME: yes, as QEMU. Granting it only hands the OS the root ports'
 * PME registers, which jvisor has (Root Control's PME interrupt enable, Root Status's
 * write-1-to-clear PME status, {@link org.jvisor.devices.pci.PcieCapability}); no PME is ever
 * raised, so the OS's PME service waits on the port's interrupt for nothing, harmlessly. Withheld,
 * the OS would take the platform for the owner of PMEs, and no firmware here handles any (no
 * wake GPE, no _PRW). The one cost: a root port built with {@code hotplug=off} has no interrupt,
 * so Linux's port driver, whose PME service needs one, gives up on it (silently, -ENODEV) and
 * the port stays without a driver (QEMU's keeps its MSI and gets the PME service); the bridge
 * forwards all the same, that is the PCI core's work, not the port driver's.</li>
 * <li>bit 3, PCI Express AER: no, jvisor's root ports have no Advanced Error Reporting capability
 * and nothing reports errors to them (QEMU grants it: its root ports have one).</li>
 * <li>bit 4, PCI Express capability structure: yes, as QEMU: the OS owns the PCI Express
 * capability's registers (Linux requests nothing without it).</li>
 * <li>bit 5 LTR, bit 7 DPC and any other: no, jvisor has none of them.</li>
 * </ul>
 * When the OS asked for more than that, CDW1 says "capabilities masked" and CDW3 holds what was
 * granted: Linux asks with the query flag first, then requests exactly what the answer granted
 * (drivers/acpi/pci_root.c). The support field (CDW2) is not consulted, as in QEMU: nothing
 * granted depends on what the OS supports. Nothing is latched either, so a query and a request
 * answer alike.
 */
final class PciHostOsc {

    /** The UUID that marks an {@code _OSC} call as the PCI host bridge's (PCI Firmware spec 4.5). */
    static final String PCI_HOST_BRIDGE_UUID = "33DB4D5B-1FF7-401C-9657-7441C03DD766";
    /** The revision of the PCI host bridge {@code _OSC} this answers (Arg1). */
    static final int REVISION = 1;

    /** CDW1, the status dword (ACPI 6.5 6.2.11): the OS's query flag, bit 0. */
    static final int QUERY = 1;
    /** CDW1: the firmware does not know the UUID. */
    static final int UNRECOGNIZED_UUID = 1 << 2;
    /** CDW1: the firmware does not know the revision. */
    static final int UNRECOGNIZED_REVISION = 1 << 3;
    /** CDW1: some control bit the OS asked for was cleared. */
    static final int CAPABILITIES_MASKED = 1 << 4;

    /** CDW3, the control dword (PCI Firmware spec 4.5): PCI Express native hot-plug. */
    static final int PCIE_NATIVE_HOTPLUG = 1;
    /** CDW3: SHPC native hot-plug. */
    static final int SHPC_NATIVE_HOTPLUG = 1 << 1;
    /** CDW3: PCI Express native power management events. */
    static final int PCIE_PME = 1 << 2;
    /** CDW3: PCI Express Advanced Error Reporting. */
    static final int PCIE_AER = 1 << 3;
    /** CDW3: the PCI Express capability structure. */
    static final int PCIE_CAPABILITY = 1 << 4;
    /** CDW3: Latency Tolerance Reporting. */
    static final int PCIE_LTR = 1 << 5;
    /** CDW3: Downstream Port Containment configuration. */
    static final int PCIE_DPC = 1 << 7;

    /** What the OS gets, of what it asks for, with native PCI Express hot-plug. */
    static final int GRANTED = PCIE_NATIVE_HOTPLUG | PCIE_PME | PCIE_CAPABILITY;
    /** What the OS gets when the platform hot-plugs the root ports through ACPI: no native hot-plug. */
    static final int GRANTED_ACPI_HOTPLUG = GRANTED & ~PCIE_NATIVE_HOTPLUG;

    private static final String CDW1 = "CDW1", CDW2 = "CDW2", CDW3 = "CDW3";
    private static final int UUID_ARG = 0, REVISION_ARG = 1, BUFFER_ARG = 3;
    /** Local0: the control bits granted. */
    private static final int GRANT = 0;

    private PciHostOsc() {
    }

    /** Writes {@code Method (_OSC, 4)} granting {@link #GRANTED} into the open {@code Device (PCI0)}. */
    static void write(AmlWriter w) {
        write(w, GRANTED);
    }

    /** Writes {@code Method (_OSC, 4)} granting {@code granted} (CDW3 bits) into the open {@code Device (PCI0)}. */
    static void write(AmlWriter w, int granted) {
        w.beginMethod("_OSC", 4, false);
        w.createDWordField().arg(BUFFER_ARG).integer(0).nameString(CDW1);

        w.beginIf().lEqual().arg(UUID_ARG).toUuid(PCI_HOST_BRIDGE_UUID);
        w.createDWordField().arg(BUFFER_ARG).integer(4).nameString(CDW2);
        w.createDWordField().arg(BUFFER_ARG).integer(8).nameString(CDW3);
        w.store().nameRef(CDW3).local(GRANT);
        w.and().local(GRANT).integer(granted).local(GRANT);
        w.beginIf().lNotEqual().arg(REVISION_ARG).integer(REVISION);
        w.or().nameRef(CDW1).integer(UNRECOGNIZED_REVISION).nameString(CDW1);
        w.end();
        w.beginIf().lNotEqual().nameRef(CDW3).local(GRANT);
        w.or().nameRef(CDW1).integer(CAPABILITIES_MASKED).nameString(CDW1);
        w.end();
        w.store().local(GRANT).nameRef(CDW3);
        w.end();

        w.beginElse();
        w.or().nameRef(CDW1).integer(UNRECOGNIZED_UUID).nameString(CDW1);
        w.end();

        w.returnOp().arg(BUFFER_ARG);
        w.end();
    }
}
