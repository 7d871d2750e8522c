package org.jvisor.boot.acpi;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;

import org.jvisor.devices.acpi.AcpiPciHotplug;

import org.jvisor.devices.acpi.AcpiPm;
import org.jvisor.devices.legacy.RtcCmos;

/**
 * The DSDT (ACPI 6.5 5.2.11.1), revision 2 (64-bit integers): \_S5 for {@link AcpiPm}, and under
 * \_SB the processors (ACPI0007), COM1, the PS/2 keyboard, the CMOS RTC, the virtio-mmio transports
 * (VRnn) and the PCI host bridge (PCI0). With ACPI PCI hot-plug (the pc machine), PCI0 also holds
 * the slot devices and methods of {@link PciHotplugAml}, and \_GPE its event method. On q35 PCI0
 * has the {@code _OSC} of {@link PciHostOsc}: with native PCI Express hot-plug it hands that to
 * the OS; with ACPI PCI hot-plug of the root ports (QEMU 7.2's q35 default) it keeps it, and PCI0
 * holds the root ports' devices and methods ({@link PciHotplugAml#writeRootPorts}), \_GPE the same
 * event method as pc's.
 */
public final class Dsdt {

    public static final int REVISION = 2;

    /** Who hot-plugs the PCI Express root ports' slots. */
    public enum PcieHotplug {
        /** Nobody: no PCI Express host, or no {@code _OSC} (pc, microvm). */
        NONE,
        /** The OS, natively: {@code _OSC} grants it (q35 with acpi-pci-hotplug-with-bridge-support=off). */
        NATIVE,
        /** The platform, through ACPI PCI hot-plug: {@code _OSC} withholds it (QEMU 7.2's q35 default). */
        ACPI
    }

    /**
     * A PCI Express root port on bus 0 as the DSDT describes it for ACPI PCI hot-plug.
     *
     * @param devfn its device and function on bus 0 (slot &lt;&lt; 3 | function)
     * @param bsel  the BSEL of its secondary bus; empty for a port without hot-plug ({@code hotplug=off})
     */
    public record RootPort(int devfn, OptionalInt bsel) {
        public RootPort {
            if (devfn < 0 || devfn > 0xFF) {
                throw new IllegalArgumentException("bad devfn " + devfn);
            }
            if (bsel.isPresent() && (bsel.getAsInt() < 0 || bsel.getAsInt() > AcpiPciHotplug.MAX_BSEL)) {
                throw new IllegalArgumentException("bad BSEL " + bsel.getAsInt());
            }
        }
    }

    /**
     * What the DSDT describes.
     *
     * @param pciHotplugSlots the slots of bus 0 with ACPI PCI hot-plug, bit s for slot s; 0 for a
     *                        machine without it (q35 has native PCIe hot-plug, microvm no PCI)
     * @param pcieHotplug     who hot-plugs the root ports: with NATIVE or ACPI, PCI0 has the
     *                        {@code _OSC} of {@link PciHostOsc} (granting native hot-plug or not);
     *                        NONE on pc, whose slots ACPI hot-plugs, as QEMU's i440fx DSDT has no
     *                        {@code _OSC}. NATIVE and ACPI need a PCI Express host (ECAM) and
     *                        exclude ACPI PCI hot-plug of bus 0.
     * @param rootPorts       with ACPI, the root ports in the order PCNT visits them, their BSELs
     *                        0 to n-1 each once (see {@link PciHotplugAml#writeRootPorts}); else empty
     */
    public record Config(int vcpus, boolean com1, boolean ps2Keyboard, boolean rtc,
                         List<VirtioMmioDevice> virtioMmio, PciHost pciHost, int pciHotplugSlots,
                         PcieHotplug pcieHotplug, List<RootPort> rootPorts) {
        public Config {
            virtioMmio = List.copyOf(virtioMmio);
            rootPorts = List.copyOf(rootPorts);
            Objects.requireNonNull(pcieHotplug, "pcieHotplug");
            if (pciHotplugSlots != 0 && pciHost == null) {
                throw new IllegalArgumentException("ACPI PCI hot-plug needs a PCI host");
            }
            if (pcieHotplug != PcieHotplug.NONE && (pciHost == null || !pciHost.pcie())) {
                throw new IllegalArgumentException("PCI Express hot-plug needs a PCI Express host (ECAM)");
            }
            if (pcieHotplug != PcieHotplug.NONE && pciHotplugSlots != 0) {
                throw new IllegalArgumentException(
                    "ACPI PCI hot-plug of bus 0 and PCI Express root port hot-plug exclude each other");
            }
            if (pcieHotplug != PcieHotplug.ACPI && !rootPorts.isEmpty()) {
                throw new IllegalArgumentException("root ports are described for ACPI PCI hot-plug only");
            }
            Set<Integer> devfns = new HashSet<>();
            Set<Integer> bsels = new HashSet<>();
            for (RootPort p : rootPorts) {
                if (!devfns.add(p.devfn())) {
                    throw new IllegalArgumentException(String.format("two root ports at devfn %#x", p.devfn()));
                }
                if (p.bsel().isPresent() && !bsels.add(p.bsel().getAsInt())) {
                    throw new IllegalArgumentException("two root ports with BSEL " + p.bsel().getAsInt());
                }
            }
            for (int b = 0; b < bsels.size(); b++) {
                if (!bsels.contains(b)) {
                    throw new IllegalArgumentException("the root ports' BSELs are not 0-" + (bsels.size() - 1) + ": " + bsels);
                }
            }
        }

        /** Native PCI Express hot-plug ({@code nativePcieHotplug}) or none. */
        public Config(int vcpus, boolean com1, boolean ps2Keyboard, boolean rtc,
                      List<VirtioMmioDevice> virtioMmio, PciHost pciHost, int pciHotplugSlots,
                      boolean nativePcieHotplug) {
            this(vcpus, com1, ps2Keyboard, rtc, virtioMmio, pciHost, pciHotplugSlots,
                nativePcieHotplug ? PcieHotplug.NATIVE : PcieHotplug.NONE, List.of());
        }

        /** Whether PCI0's {@code _OSC} grants the OS native PCI Express hot-plug. */
        public boolean nativePcieHotplug() {
            return pcieHotplug == PcieHotplug.NATIVE;
        }

        /** Whether the DSDT has \_GPE's hot-plug method: ACPI PCI hot-plug of bus 0 or of the root ports. */
        boolean acpiPciHotplug() {
            return pciHotplugSlots != 0 || pcieHotplug == PcieHotplug.ACPI;
        }

        /** With ACPI PCI hot-plug or none, without native PCI Express hot-plug. */
        public Config(int vcpus, boolean com1, boolean ps2Keyboard, boolean rtc,
                      List<VirtioMmioDevice> virtioMmio, PciHost pciHost, int pciHotplugSlots) {
            this(vcpus, com1, ps2Keyboard, rtc, virtioMmio, pciHost, pciHotplugSlots, false);
        }

        /** Without PCI hot-plug. */
        public Config(int vcpus, boolean com1, boolean ps2Keyboard, boolean rtc,
                      List<VirtioMmioDevice> virtioMmio, PciHost pciHost) {
            this(vcpus, com1, ps2Keyboard, rtc, virtioMmio, pciHost, 0, PcieHotplug.NONE, List.of());
        }
    }

    private Dsdt() {
    }

    /** The whole table, header included. */
    public static byte[] build(Config c) {
        AmlWriter w = new AmlWriter(1024);
        writeBody(w, c);
        SdtWriter t = new SdtWriter("DSDT", REVISION, SdtWriter.HEADER_SIZE + w.size());
        return t.bytes(w.toByteArray()).finish();
    }

    /** The AML body (the definition block's term list). */
    public static void writeBody(AmlWriter w, Config c) {
        // Sleep states: only S5. Package: SLP_TYPa, SLP_TYPb, reserved, reserved.
        w.name("\\_S5").beginPackage().integer(AcpiPm.SLP_TYP_S5).zero().zero().zero().end();

        w.beginScope("\\_SB");
        for (int i = 0; i < c.vcpus(); i++) {
            w.beginDevice(String.format("C%03X", i));
            w.name("_HID").string("ACPI0007");
            w.name("_UID").integer(i);
            w.end();
        }
        if (c.com1()) {
            w.beginDevice("COM1");
            w.name("_HID").eisaId("PNP0501");
            w.name("_UID").integer(0);
            w.name("_STA").integer(0x0F);
            w.name("_CRS").beginResourceTemplate().io(0x3F8, 0x3F8, 0x00, 0x08).irqNoFlags(4).end();
            w.end();
        }
        if (c.ps2Keyboard()) {
            w.beginDevice("KBD");
            w.name("_HID").eisaId("PNP0303");
            w.name("_STA").integer(0x0F);
            w.name("_CRS").beginResourceTemplate()
                .io(0x60, 0x60, 0x01, 0x01).io(0x64, 0x64, 0x01, 0x01).irqNoFlags(1).end();
            w.end();
        }
        if (c.rtc()) {
            // PNP0B00, the AT RTC, as QEMU's DSDT has it: Linux's rtc_cmos binds to it instead of
            // registering a platform device by guess. The ports the device decodes: no extended bank.
            w.beginDevice("RTC");
            w.name("_HID").eisaId("PNP0B00");
            w.name("_STA").integer(0x0F);
            w.name("_CRS").beginResourceTemplate()
                .io(RtcCmos.PORT_BASE, RtcCmos.PORT_BASE, 0x01, RtcCmos.PORTS).irqNoFlags(RtcCmos.IRQ).end();
            w.end();
        }
        List<VirtioMmioDevice> vs = c.virtioMmio();
        for (int i = 0; i < vs.size(); i++) {
            VirtioMmioDevice v = vs.get(i);
            if (i > 0xFF) {
                throw new IllegalArgumentException("at most 256 virtio-mmio devices");
            }
            w.beginDevice(String.format("VR%02X", i));
            w.name("_HID").string("LNRO0005");
            w.name("_UID").integer(i);
            w.name("_CCA").one();
            w.name("_CRS").beginResourceTemplate()
                .memory32Fixed(true, v.base(), v.size())
                .extendedInterrupt(true, false, false, false, v.gsi())
                .end();
            w.end();
        }
        if (c.pciHost() != null) {
            writePciHost(w, c);
        }
        w.end();
        if (c.acpiPciHotplug()) {
            PciHotplugAml.writeGpeScope(w);
        }
    }

    private static void writePciHost(AmlWriter w, Config c) {
        PciHost p = c.pciHost();
        w.beginDevice("PCI0");
        if (p.pcie()) {
            w.name("_HID").eisaId("PNP0A08");
            w.name("_CID").eisaId("PNP0A03");
        } else {
            w.name("_HID").eisaId("PNP0A03");
        }
        w.name("_ADR").zero();
        w.name("_SEG").integer(p.segment());
        w.name("_BBN").integer(p.busStart());
        w.name("_UID").integer(p.segment());
        switch (c.pcieHotplug()) { // where QEMU's q35 DSDT has it, after _UID
            case NATIVE -> PciHostOsc.write(w, PciHostOsc.GRANTED);
            case ACPI -> PciHostOsc.write(w, PciHostOsc.GRANTED_ACPI_HOTPLUG);
            case NONE -> { }
        }
        w.name("_CRS").beginResourceTemplate();
        w.wordBusNumber(p.busStart(), p.busEnd());
        w.io(0xCF8, 0xCF8, 0x01, 0x08);
        w.wordIo(0x0000, 0x0CF7);
        w.wordIo(0x0D00, 0xFFFF);
        if (p.mmio32Size() > 0) {
            w.dwordMemory(AmlWriter.MEM_NON_CACHEABLE, p.mmio32Base(), p.mmio32Base() + p.mmio32Size() - 1);
        }
        if (p.mmio64Size() > 0) {
            w.qwordMemory(AmlWriter.MEM_PREFETCHABLE, p.mmio64Base(), p.mmio64Base() + p.mmio64Size() - 1);
        }
        w.end();
        if (!p.irqRoutes().isEmpty()) {
            w.name("_PRT").beginPackage();
            for (PciHost.IrqRoute r : p.irqRoutes()) {
                // Address (device in the high word, any function), pin, source (none: a GSI), GSI
                w.beginPackage().integer(((long) r.slot() << 16) | 0xFFFF).integer(r.pin()).zero().integer(r.gsi()).end();
            }
            w.end();
        }
        if (c.pciHotplugSlots() != 0) {
            PciHotplugAml.writeRootBus(w, c.pciHotplugSlots());
        }
        if (c.pcieHotplug() == PcieHotplug.ACPI) {
            PciHotplugAml.writeRootPorts(w, c.rootPorts());
        }
        w.end();
        if (p.pcie()) {
            // The ECAM window is reserved as a motherboard resource, or Linux will not use it.
            w.beginDevice("RES0");
            w.name("_HID").eisaId("PNP0C02");
            w.name("_UID").zero();
            long size = Mcfg.ecamSize(p.busStart(), p.busEnd());
            w.name("_CRS").beginResourceTemplate();
            if (p.ecamBase() + size <= 0x1_0000_0000L) {
                w.memory32Fixed(true, p.ecamBase(), size);
            } else {
                w.qwordAddressSpace(AmlWriter.ADDR_MEMORY, AmlWriter.ADDR_CONSUMER | AmlWriter.ADDR_MIN_FIXED
                    | AmlWriter.ADDR_MAX_FIXED, AmlWriter.MEM_NON_CACHEABLE, 0, p.ecamBase(),
                    p.ecamBase() + size - 1, 0, size);
            }
            w.end();
            w.end();
        }
    }
}
