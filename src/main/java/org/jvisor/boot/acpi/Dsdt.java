package org.jvisor.boot.acpi;

import java.util.List;

import org.jvisor.devices.acpi.AcpiPm;
import org.jvisor.devices.legacy.RtcCmos;

/**
 * The DSDT (ACPI 6.5 5.2.11.1), revision 2 (64-bit integers): \_S5 for {@link AcpiPm}, and under
 * \_SB the processors (ACPI0007), COM1, the PS/2 keyboard, the CMOS RTC, the virtio-mmio transports
 * (VRnn) and the PCI host bridge (PCI0). With ACPI PCI hot-plug (the pc machine), PCI0 also holds
 * the slot devices and methods of {@link PciHotplugAml}, and \_GPE its event method; with native
 * PCI Express hot-plug (q35), the {@code _OSC} of {@link PciHostOsc} that hands it to the OS.
 */
public final class Dsdt {

    public static final int REVISION = 2;

    /**
     * What the DSDT describes.
     *
     * @param pciHotplugSlots the slots of bus 0 with ACPI PCI hot-plug, bit s for slot s; 0 for a
     *                        machine without it (q35 has native PCIe hot-plug, microvm no PCI)
     * @param nativePcieHotplug whether PCI0 has the {@code _OSC} that grants the OS native PCI
     *                        Express hot-plug ({@link PciHostOsc}): q35, whose root ports hot-plug
     *                        natively; not pc, whose slots ACPI hot-plugs, as QEMU's i440fx DSDT
     *                        has no {@code _OSC}. Needs a PCI Express host (ECAM) and excludes ACPI
     *                        PCI hot-plug.
     */
    public record Config(int vcpus, boolean com1, boolean ps2Keyboard, boolean rtc,
                         List<VirtioMmioDevice> virtioMmio, PciHost pciHost, int pciHotplugSlots,
                         boolean nativePcieHotplug) {
        public Config {
            virtioMmio = List.copyOf(virtioMmio);
            if (pciHotplugSlots != 0 && pciHost == null) {
                throw new IllegalArgumentException("ACPI PCI hot-plug needs a PCI host");
            }
            if (nativePcieHotplug && (pciHost == null || !pciHost.pcie())) {
                throw new IllegalArgumentException("native PCI Express hot-plug needs a PCI Express host (ECAM)");
            }
            if (nativePcieHotplug && pciHotplugSlots != 0) {
                throw new IllegalArgumentException(
                    "ACPI PCI hot-plug and native PCI Express hot-plug exclude each other");
            }
        }

        /** With ACPI PCI hot-plug or none, without native PCI Express hot-plug. */
        public Config(int vcpus, boolean com1, boolean ps2Keyboard, boolean rtc,
                      List<VirtioMmioDevice> virtioMmio, PciHost pciHost, int pciHotplugSlots) {
            this(vcpus, com1, ps2Keyboard, rtc, virtioMmio, pciHost, pciHotplugSlots, false);
        }

        /** Without PCI hot-plug. */
        public Config(int vcpus, boolean com1, boolean ps2Keyboard, boolean rtc,
                      List<VirtioMmioDevice> virtioMmio, PciHost pciHost) {
            this(vcpus, com1, ps2Keyboard, rtc, virtioMmio, pciHost, 0, false);
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
            writePciHost(w, c.pciHost(), c.pciHotplugSlots(), c.nativePcieHotplug());
        }
        w.end();
        if (c.pciHotplugSlots() != 0) {
            PciHotplugAml.writeGpeScope(w);
        }
    }

    private static void writePciHost(AmlWriter w, PciHost p, int hotplugSlots, boolean nativePcieHotplug) {
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
        if (nativePcieHotplug) {
            PciHostOsc.write(w); // where QEMU's q35 DSDT has it, after _UID
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
        if (hotplugSlots != 0) {
            PciHotplugAml.writeRootBus(w, hotplugSlots);
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
