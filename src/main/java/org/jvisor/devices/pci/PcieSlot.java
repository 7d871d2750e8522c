package org.jvisor.devices.pci;

/**
 * The slot of a {@link PcieRootPort} and, when the port is hot-plug capable, its standard hot-plug
 * controller (PCIe base spec 6.7), modelled on QEMU 7.2's pcie-root-port and driven the way
 * Linux's pciehp driver drives it. Every register lives in the port's configuration space (the
 * PCI Express capability's Slot Capabilities, Slot Control, Slot Status, Link Capabilities and
 * Link Status, 7.5.3.6-7.5.3.11), so a snapshot of the port carries the slot whole; the one thing
 * outside is the continuation of a pending QMP device_del, which a snapshot does not keep.
 *
 * <p>Slot Capabilities (7.5.3.9), as QEMU's: attention button, power controller, attention and
 * power indicators, electromechanical interlock, hot-plug surprise and hot-plug capable; no MRL
 * sensor and no "no command completed support" (every Slot Control write completes at once and
 * says so, see {@link #written}). Link Capabilities (7.5.3.6) says Data Link Layer Link Active
 * Reporting Capable, which the spec requires of a hot-plug capable Downstream Port; Link Status's
 * DL_Active bit is on while a card is present and the slot is powered, and each change of it is a
 * Data Link Layer State Changed event.
 *
 * <p>Interrupts (6.7.3.4): the hot-plug interrupt is pending while Hot-Plug Interrupt Enable is set
 * and some event status bit is set together with its enable. As INTx it is a level on the port's
 * pin A; as MSI (the port's single vector, the capability's Interrupt Message Number 0) a message
 * is sent on each transition of that condition from false to true only, so a guest must clear
 * every event to get the next message (pciehp's interrupt handler re-reads Slot Status for this).
 *
 * <p>Without hot-plug ({@code pcie-root-port,hotplug=off}) the slot only reports presence: no
 * hot-plug capability bits, Slot Control reads 0 and takes nothing, no events, no interrupts.
 *
 * <p>Every method runs with the port's lock held; the port runs the removal continuations this
 * class hands back after releasing it.
 */
final class PcieSlot {
    // Slot Capabilities (7.5.3.9).
    static final int SLTCAP_ABP = 1;                 // Attention Button Present
    static final int SLTCAP_PCP = 1 << 1;            // Power Controller Present
    static final int SLTCAP_MRLSP = 1 << 2;          // MRL Sensor Present
    static final int SLTCAP_AIP = 1 << 3;            // Attention Indicator Present
    static final int SLTCAP_PIP = 1 << 4;            // Power Indicator Present
    static final int SLTCAP_HPS = 1 << 5;            // Hot-Plug Surprise
    static final int SLTCAP_HPC = 1 << 6;            // Hot-Plug Capable
    static final int SLTCAP_EIP = 1 << 17;           // Electromechanical Interlock Present
    static final int SLTCAP_NCCS = 1 << 18;          // No Command Completed Support
    // Slot Control (7.5.3.10).
    static final int SLTCTL_ABPE = 1;                // Attention Button Pressed Enable
    static final int SLTCTL_PFDE = 1 << 1;           // Power Fault Detected Enable
    static final int SLTCTL_MRLSCE = 1 << 2;         // MRL Sensor Changed Enable
    static final int SLTCTL_PDCE = 1 << 3;           // Presence Detect Changed Enable
    static final int SLTCTL_CCIE = 1 << 4;           // Command Completed Interrupt Enable
    static final int SLTCTL_HPIE = 1 << 5;           // Hot-Plug Interrupt Enable
    static final int SLTCTL_AIC = 3 << 6;            // Attention Indicator Control
    static final int SLTCTL_PIC = 3 << 8;            // Power Indicator Control
    static final int SLTCTL_PCC = 1 << 10;           // Power Controller Control: 1 is off
    static final int SLTCTL_EIC = 1 << 11;           // Electromechanical Interlock Control
    static final int SLTCTL_DLLSCE = 1 << 12;        // Data Link Layer State Changed Enable
    /** Indicator Control values (7.5.3.10): 01b on, 10b blink, 11b off (00b reserved). */
    static final int AIC_OFF = 3 << 6;
    static final int PIC_ON = 1 << 8, PIC_BLINK = 2 << 8, PIC_OFF = 3 << 8;
    // Slot Status (7.5.3.11).
    static final int SLTSTA_ABP = 1;                 // Attention Button Pressed
    static final int SLTSTA_PFD = 1 << 1;            // Power Fault Detected
    static final int SLTSTA_MRLSC = 1 << 2;          // MRL Sensor Changed
    static final int SLTSTA_PDC = 1 << 3;            // Presence Detect Changed
    static final int SLTSTA_CC = 1 << 4;             // Command Completed
    static final int SLTSTA_MRLSS = 1 << 5;          // MRL Sensor State
    static final int SLTSTA_PDS = 1 << 6;            // Presence Detect State
    static final int SLTSTA_EIS = 1 << 7;            // Electromechanical Interlock Status
    static final int SLTSTA_DLLSC = 1 << 8;          // Data Link Layer State Changed
    // Link Capabilities (7.5.3.6) and Link Status (7.5.3.8).
    static final int LNKCAP_DLLLARC = 1 << 20;       // Data Link Layer Link Active Reporting Capable
    static final int LNKSTA_DLLLA = 1 << 13;         // Data Link Layer Link Active

    /**
     * What a hot-plug capable slot has, as QEMU 7.2 sets it (pcie_cap_slot_init, hotplug=on): HPS
     * because a card can leave without the guest's consent (a device_del on a powered-off slot
     * removes it at once; Linux 6.1 only logs the bit). No NCCS: each Slot Control write sets
     * Command Completed, and pciehp waits for it before its next write (1 s, then "Timeout on
     * hotplug command", without it). EIP: the interlock toggles on a write of 1 to EIC, and
     * a locked slot refuses device_add and device_del, as QEMU's does.
     */
    private static final int SLOT_CAPABILITIES_HOTPLUG = SLTCAP_ABP | SLTCAP_PCP | SLTCAP_AIP | SLTCAP_PIP
        | SLTCAP_HPS | SLTCAP_HPC | SLTCAP_EIP;
    /**
     * The enables and controls the guest writes. PFDE and MRLSCE may be read-only 0 without a
     * power fault detector or an MRL sensor (7.5.3.10); they are writable and never fire. EIC is
     * not here: it always reads 0 and is acted on from the written value.
     */
    private static final int SLTCTL_WRITABLE = SLTCTL_ABPE | SLTCTL_PFDE | SLTCTL_MRLSCE | SLTCTL_PDCE | SLTCTL_CCIE
        | SLTCTL_HPIE | SLTCTL_AIC | SLTCTL_PIC | SLTCTL_PCC | SLTCTL_DLLSCE;
    /** The event bits, write-1-to-clear (7.5.3.11). */
    private static final int SLTSTA_EVENTS = SLTSTA_ABP | SLTSTA_PFD | SLTSTA_MRLSC | SLTSTA_PDC | SLTSTA_CC
        | SLTSTA_DLLSC;
    /** Events in bits 4:0 whose enables are the same bits of Slot Control (DLLSC's is bit 12). */
    private static final int LOW_EVENTS = SLTSTA_ABP | SLTSTA_PFD | SLTSTA_MRLSC | SLTSTA_PDC | SLTSTA_CC;

    private final PcieRootPort port;
    private final PciConfigSpace config;
    private final MsiCapability msi;
    private final boolean hotplug;
    private final int control;
    private final int status;
    private final int linkStatus;
    /** device_del's continuation: runs once when the guest powers the slot off. Not in a snapshot. */
    private Runnable pendingUnplug;

    /**
     * Sets the slot's registers up in {@code port}'s configuration space (during its construction).
     *
     * @param msi the port's MSI capability for hot-plug interrupts, null for a slot without hot-plug
     */
    PcieSlot(PcieRootPort port, PcieCapability pcie, MsiCapability msi) {
        this.port = port;
        this.config = port.config();
        this.msi = msi;
        this.hotplug = msi != null;
        int o = pcie.offset();
        control = o + PcieCapability.SLOT_CONTROL;
        status = o + PcieCapability.SLOT_STATUS;
        linkStatus = o + PcieCapability.LINK_STATUS;
        // Presence and the interlock change at run time: a restore takes them from the state.
        config.setDeviceManaged(status, 2, SLTSTA_PDS | SLTSTA_EIS);
        if (!hotplug) {
            return;
        }
        int slotCaps = o + PcieCapability.SLOT_CAPABILITIES;
        config.set32(slotCaps, config.get32(slotCaps) | SLOT_CAPABILITIES_HOTPLUG);
        int linkCaps = o + PcieCapability.LINK_CAPABILITIES;
        config.set32(linkCaps, config.get32(linkCaps) | LNKCAP_DLLLARC);
        config.setDeviceManaged(linkStatus, 2, LNKSTA_DLLLA);
        config.setWritable(control, 2, SLTCTL_WRITABLE);
        config.setWriteOneToClear(status, 2, SLTSTA_EVENTS);
        // As QEMU realizes the port: power on, both indicators off (until a reset, see below).
        config.set16(control, AIC_OFF | PIC_OFF);
    }

    /** Where Slot Control is in the port's configuration space. */
    int controlOffset() {
        return control;
    }

    /** Where Slot Status is. */
    int statusOffset() {
        return status;
    }

    boolean hotplugCapable() {
        return hotplug;
    }

    /** Whether the slot has power: always without a power controller, else while PCC says on. */
    boolean powered() {
        return powered(config.get16(control));
    }

    private boolean powered(int sltctl) {
        return !hotplug || (sltctl & SLTCTL_PCC) == 0;
    }

    /**
     * Power off and power indicator off: QEMU 7.2's test for "the guest is done with the card"
     * (pcie_sltctl_powered_off). pciehp's removal writes PCC (off) first, then, a second later,
     * the power indicator (off); the card goes at the second write.
     */
    private static boolean poweredOff(int sltctl) {
        return (sltctl & SLTCTL_PCC) != 0 && (sltctl & SLTCTL_PIC) == PIC_OFF;
    }

    private boolean occupied() {
        return (config.get16(status) & SLTSTA_PDS) != 0;
    }

    boolean unplugPending() {
        return pendingUnplug != null;
    }

    // ---- presence ------------------------------------------------------------------------------

    /**
     * A card came ({@code present}) or left. Presence Detect State follows, and the link with it
     * (up while present and powered). With {@code event} (a hot removal, not a cold plug) a hot-plug
     * capable slot also reports Presence Detect Changed and, if the link went down, Data Link
     * Layer State Changed, and interrupts if enabled. A pending unplug ends with the card.
     */
    void presenceChanged(boolean present, boolean event) {
        int sta = config.get16(status);
        if (((sta & SLTSTA_PDS) != 0) == present) {
            return;
        }
        boolean before = interruptPending();
        config.set16(status, present ? sta | SLTSTA_PDS : sta & ~SLTSTA_PDS);
        if (!present) {
            pendingUnplug = null;
        }
        if (hotplug) {
            updateLink(event);
            if (event) {
                setStatus(SLTSTA_PDC);
                signal(before);
            }
        }
    }

    /**
     * The card the machine just put in the slot arrived hot (QMP device_add): Presence Detect
     * Changed, Data Link Layer State Changed if the slot is powered (the link came up with the
     * card), and, as QEMU 7.2 does (pcie_cap_slot_plug_cb), Attention Button Pressed. The button
     * is what makes a Linux guest notice: with an attention button pciehp enables ABPE and DLLSCE
     * but not PDCE, and it powers an empty slot off, so a card in an unpowered slot brings no link
     * change; on the press pciehp starts bringing the slot up, sees the card present and powers
     * the slot on at once (pciehp_handle_presence_or_link_change cancels the 5 s button delay). The
     * slot is not powered here: pciehp finds an already powered slot "already enabled" and would
     * not enumerate the card.
     *
     * @throws IllegalStateException without hot-plug, or with nothing in the slot
     */
    void hotPlugged() {
        if (!hotplug) {
            throw new IllegalStateException("Hot-plug failed: unsupported by the port device (hotplug=off)");
        }
        if (!occupied()) {
            throw new IllegalStateException("nothing in the slot: add the function before hotPlugged()");
        }
        boolean before = interruptPending();
        boolean linkUp = (config.get16(linkStatus) & LNKSTA_DLLLA) != 0;
        setStatus(SLTSTA_PDC | SLTSTA_ABP | (linkUp ? SLTSTA_DLLSC : 0));
        signal(before);
    }

    /**
     * Powers the slot on without the guest, as QEMU 7.2's pcie_cap_slot_enable_power does when
     * ACPI PCI hot-plug puts a card behind a root port (acpi_pcihp_device_plug_cb): with no native
     * driver bound nobody else would power an empty slot, which a reset left off. Power Controller
     * Control goes on; the indicators stay as they are and no event is reported (checked on QEMU
     * 7.2 q35: Slot Control 0x07C0 before a device_add, 0x03C0 after, Slot Status 0). No effect
     * without a power controller or when already on.
     */
    void enablePower() {
        int sltctl = config.get16(control);
        if (!hotplug || powered(sltctl)) {
            return;
        }
        config.set16(control, sltctl & ~SLTCTL_PCC);
        port.slotPowerChanged(true);
        updateLink(false);
    }

    /**
     * QEMU's checks before a hot-plug (pcie_cap_slot_pre_plug_cb).
     *
     * @throws IllegalStateException without hot-plug or while the interlock is locked
     */
    void checkHotPlug() {
        if (!hotplug) {
            throw new IllegalStateException("Hot-plug failed: unsupported by the port device (hotplug=off)");
        }
        if ((config.get16(status) & SLTSTA_EIS) != 0) {
            throw new IllegalStateException("slot is electromechanically locked");
        }
    }

    /**
     * QMP device_del (QEMU 7.2's pcie_cap_slot_unplug_request_cb). Presses the attention button
     * and keeps {@code poweredOff} until the guest powers the slot off; or, if the slot is powered
     * off with its indicator off already (a guest that never enabled it), hands it back to run at
     * once.
     *
     * @return the continuation to run now (after the port's lock is released), or null
     * @throws IllegalStateException when an unplug is pending, the slot has no hot-plug, is
     *         empty, is locked, or the guest is busy with it (power indicator blinking)
     */
    Runnable requestUnplug(Runnable poweredOff) {
        if (pendingUnplug != null) {
            throw new IllegalStateException("the device is already in the process of unplug");
        }
        if (!hotplug) {
            throw new IllegalStateException("Hot-unplug failed: unsupported by the port device (hotplug=off)");
        }
        if (!occupied()) {
            throw new IllegalStateException("Hot-unplug failed: the slot is empty");
        }
        int sltctl = config.get16(control);
        if ((config.get16(status) & SLTSTA_EIS) != 0) {
            throw new IllegalStateException("slot is electromechanically locked");
        }
        if ((sltctl & SLTCTL_PIC) == PIC_BLINK) {
            // pciehp blinks while it brings the slot up or waits 5 s to take it down; a second
            // press in that time would cancel what it is doing.
            throw new IllegalStateException("Hot-unplug failed: guest is busy (power indicator blinking)");
        }
        if (poweredOff(sltctl)) {
            return poweredOff;
        }
        pendingUnplug = poweredOff;
        boolean before = interruptPending();
        setStatus(SLTSTA_ABP);
        signal(before);
        return null;
    }

    // ---- the guest's writes --------------------------------------------------------------------

    /**
     * After a guest configuration write of {@code size} bytes of {@code value} at {@code offset};
     * {@code oldControl} and {@code oldStatus} are Slot Control and Slot Status before it.
     *
     * @return a pending unplug's continuation to run once the port's lock is released, or null
     */
    Runnable written(int oldControl, int oldStatus, int offset, int size, int value) {
        if (!hotplug) {
            return null;
        }
        boolean toControl = offset < control + 2 && offset + size > control;
        boolean toStatus = offset < status + 2 && offset + size > status;
        if (!toControl && !toStatus) {
            return null;
        }
        boolean before = interruptPending(oldControl, oldStatus);
        if (toStatus && (onesWritten(offset, size, value, status) & ~oldStatus & LOW_EVENTS) != 0) {
            // QEMU's work-around (pcie_cap_slot_write_config): a write of 1 to an event bit that
            // is clear is a guest clearing everything blindly (pciehp's init does), racing with
            // events it has not seen; such a write clears none of those events, so an early
            // device_del's button press survives until pciehp listens.
            int sta = config.get16(status);
            config.set16(status, sta & ~LOW_EVENTS | oldStatus & LOW_EVENTS);
        }
        Runnable removal = null;
        if (toControl) {
            int sltctl = config.get16(control);
            if ((onesWritten(offset, size, value, control) & SLTCTL_EIC) != 0) {
                // 7.5.3.10: a write of 1 to EIC toggles the interlock; EIC itself reads 0.
                config.set16(status, config.get16(status) ^ SLTSTA_EIS);
            }
            if (powered(oldControl) != powered(sltctl)) {
                port.slotPowerChanged(powered(sltctl));
                updateLink(true);
            }
            if (pendingUnplug != null && occupied() && poweredOff(sltctl) && !poweredOff(oldControl)) {
                removal = pendingUnplug;
                pendingUnplug = null;
            }
            // 6.7.3.2: every Slot Control write is one command, completed at once.
            setStatus(SLTSTA_CC);
        }
        signal(before);
        return removal;
    }

    /** The bits of the 16-bit register at {@code reg} that a write of {@code size} bytes at {@code offset} set to 1. */
    private static int onesWritten(int offset, int size, int value, int reg) {
        int ones = 0;
        for (int i = 0; i < 2; i++) {
            int b = reg + i - offset;
            if (b >= 0 && b < size) {
                ones |= (value >>> (8 * b) & 0xFF) << (8 * i);
            }
        }
        return ones;
    }

    // ---- reset ---------------------------------------------------------------------------------

    /**
     * The slot after a port reset (its writable and event bits already 0), as QEMU 7.2's
     * pcie_cap_slot_reset: interlock released, attention indicator off, an occupied slot powered
     * with its power indicator on, an empty one powered off with it off; the link follows without
     * an event. A pending unplug is completed rather than forgotten: the card is treated as gone
     * (the slot comes out of reset empty and off), and its continuation is handed back for the
     * port to run after the reset.
     *
     * @return the pending unplug's continuation, or null
     */
    Runnable reset() {
        config.set16(status, config.get16(status) & ~SLTSTA_EIS);
        if (!hotplug) {
            return null;
        }
        Runnable removal = pendingUnplug;
        pendingUnplug = null;
        boolean populated = occupied() && removal == null;
        config.set16(control, AIC_OFF | (populated ? PIC_ON : (PIC_OFF | SLTCTL_PCC)));
        updateLink(false);
        return removal;
    }

    // ---- events and the interrupt --------------------------------------------------------------

    /** DL_Active follows presence and power; with {@code event} a change sets DLLSC. */
    private void updateLink(boolean event) {
        int lnk = config.get16(linkStatus);
        boolean up = occupied() && powered();
        if (((lnk & LNKSTA_DLLLA) != 0) == up) {
            return;
        }
        config.set16(linkStatus, up ? lnk | LNKSTA_DLLLA : lnk & ~LNKSTA_DLLLA);
        if (event) {
            setStatus(SLTSTA_DLLSC);
        }
    }

    private void setStatus(int events) {
        config.set16(status, config.get16(status) | events);
    }

    private boolean interruptPending() {
        return interruptPending(config.get16(control), config.get16(status));
    }

    /** 6.7.3.4: HPIE, and an event status bit set with its enable. */
    private boolean interruptPending(int sltctl, int sltsta) {
        if (!hotplug || (sltctl & SLTCTL_HPIE) == 0) {
            return false;
        }
        return (sltsta & sltctl & LOW_EVENTS) != 0 || (sltsta & SLTSTA_DLLSC) != 0 && (sltctl & SLTCTL_DLLSCE) != 0;
    }

    /**
     * Drives the interrupt after a change that began with it {@code before}: pin A carries the
     * level (the port's INTx is not driven while MSI is enabled, or with Interrupt Disable), and a
     * rise of the condition sends the MSI vector if MSI is enabled.
     */
    private void signal(boolean before) {
        boolean now = interruptPending();
        port.intx().set(now);
        if (now && !before) {
            msi.notify(0);
        }
    }
}
