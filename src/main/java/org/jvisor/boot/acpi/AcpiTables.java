package org.jvisor.boot.acpi;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jvisor.devices.acpi.AcpiPm;
import org.jvisor.memory.GuestMemory;

/**
 * Builds the machine's ACPI tables and lays them out in one guest-physical window: by default the
 * first half (0xE0000-0xEFFFF) of the BIOS area that Linux scans for the RSDP (the boot loader may also hand the RSDP
 * address over in boot_params.acpi_rsdp_addr). Layout: RSDP at the window base, then FACS
 * (64-byte aligned), DSDT, FADT, MADT, MCFG (with a PCIe host), DMAR (with a VT-d unit), XSDT,
 * RSDT, each 16-byte aligned.
 * The e820 map must mark the returned range reserved.
 *
 * <pre>{@code
 * AcpiTables.Placement p = new AcpiTables(vcpus)
 *     .addVirtioMmio(0xFEB00000L, 0x200, 16)
 *     .writeTo(memory);
 * }</pre>
 */
public final class AcpiTables {

    /** The default window: the first 64 KiB of the BIOS area below 1 MiB (the rest holds SMBIOS). */
    public static final long DEFAULT_BASE = org.jvisor.boot.BiosArea.ACPI_BASE;
    public static final int DEFAULT_SIZE = org.jvisor.boot.BiosArea.ACPI_SIZE;

    private final int vcpus;
    private final List<VirtioMmioDevice> virtioMmio = new ArrayList<>();
    private PciHost pciHost;
    private Dmar.Unit dmar;
    private boolean com1 = true;
    private boolean i8042 = true;
    private boolean rtc = true;
    private int pciHotplugSlots;
    private Dsdt.PcieHotplug pcieHotplug = Dsdt.PcieHotplug.NONE;
    private List<Dsdt.RootPort> rootPorts = List.of();

    /** Where the tables went. */
    public record Placement(long rsdpAddress, long start, long length) {
    }

    /** The laid-out window: {@code bytes} go to {@code base}; table signature to address. */
    public record Image(long base, byte[] bytes, long rsdpAddress, Map<String, Long> tables) {
        /** The bytes of the table at {@code address} (its header's length). */
        public byte[] table(long address) {
            int off = (int) (address - base);
            int len = (bytes[off + 4] & 0xFF) | (bytes[off + 5] & 0xFF) << 8
                | (bytes[off + 6] & 0xFF) << 16 | (bytes[off + 7] & 0xFF) << 24;
            byte[] t = new byte[len];
            System.arraycopy(bytes, off, t, 0, len);
            return t;
        }

        /** The bytes of the table with this signature (e.g. "DSDT", "FACP"). */
        public byte[] table(String signature) {
            Long a = tables.get(signature);
            if (a == null) {
                throw new IllegalArgumentException("no " + signature + " table");
            }
            return signature.equals("RSDP") ? Arrays.copyOfRange(bytes, (int) (a - base),
                (int) (a - base) + RootTables.RSDP_SIZE) : table(a);
        }
    }

    public AcpiTables(int vcpus) {
        if (vcpus < 1 || vcpus > Madt.MAX_VCPUS) {
            throw new IllegalArgumentException("ACPI tables describe 1 to " + Madt.MAX_VCPUS + " vCPUs, not " + vcpus);
        }
        this.vcpus = vcpus;
    }

    /**
     * Adds a virtio-mmio transport: DSDT device VRnn (n = order of addition, in hex) with _UID n,
     * _CCA 1, _CRS Memory32Fixed(base, size) and Interrupt(level, active high) {gsi}.
     */
    public AcpiTables addVirtioMmio(long base, long size, int gsi) {
        VirtioMmioDevice d = new VirtioMmioDevice(base, size, gsi);
        for (VirtioMmioDevice o : virtioMmio) {
            if (d.base() < o.base() + o.size() && o.base() < d.base() + d.size()) {
                throw new IllegalArgumentException(String.format(
                    "virtio-mmio window %#x+%#x overlaps %#x+%#x", base, size, o.base(), o.size()));
            }
        }
        virtioMmio.add(d);
        return this;
    }

    /** Adds a PCI host bridge (and an MCFG if it has ECAM); null for none. */
    public AcpiTables pciHost(PciHost host) {
        this.pciHost = host;
        return this;
    }

    /** Adds a DMAR table describing this VT-d unit (null: none); the machine sets it once its PCI devices are placed. */
    public AcpiTables dmar(Dmar.Unit unit) {
        this.dmar = unit;
        return this;
    }

    /** Whether COM1 (0x3F8, IRQ 4) is described; default yes. */
    public AcpiTables com1(boolean present) {
        this.com1 = present;
        return this;
    }

    /** Whether the i8042 (keyboard at 0x60/0x64, IRQ 1) is present; default yes. */
    public AcpiTables i8042(boolean present) {
        this.i8042 = present;
        return this;
    }

    /** Whether the CMOS RTC (0x70/0x71, IRQ 8) is described; default yes. */
    public AcpiTables rtc(boolean present) {
        this.rtc = present;
        return this;
    }

    /**
     * ACPI PCI hot-plug of bus 0, as on QEMU's pc (PIIX4): the DSDT gets a slot device for each
     * slot in {@code slots} (bit s for slot s; see {@link org.jvisor.devices.acpi.AcpiPciHotplug})
     * and the GPE method, the FADT the GPE0 block ({@link org.jvisor.devices.acpi.Gpe0Block}) that
     * signals it. 0 (the default): none. Needs a {@link #pciHost}.
     */
    public AcpiTables pciHotplug(int slots) {
        this.pciHotplugSlots = slots;
        return this;
    }

    /**
     * Native PCI Express hot-plug, as on QEMU's q35: the PCI host's {@code _OSC} grants the OS
     * control of the root ports' hot-plug ({@link PciHostOsc}). Default off. Needs a PCI Express
     * {@link #pciHost} and no {@link #pciHotplug ACPI PCI hot-plug}.
     */
    public AcpiTables nativePcieHotplug(boolean on) {
        this.pcieHotplug = on ? Dsdt.PcieHotplug.NATIVE : Dsdt.PcieHotplug.NONE;
        this.rootPorts = List.of();
        return this;
    }

    /**
     * ACPI PCI hot-plug of the PCI Express root ports, QEMU 7.2's q35 default
     * (acpi-pci-hotplug-with-bridge-support=on): the DSDT describes {@code ports} with their BSELs
     * and the GPE method, PCI0's {@code _OSC} withholds native hot-plug, the FADT has ICH9's GPE0
     * block. Needs a PCI Express {@link #pciHost} and no {@link #pciHotplug ACPI PCI hot-plug} of bus 0.
     *
     * @param ports the root ports in the order the DSDT's PCNT visits them (see {@link Dsdt.Config})
     */
    public AcpiTables acpiPcieHotplug(List<Dsdt.RootPort> ports) {
        this.pcieHotplug = Dsdt.PcieHotplug.ACPI;
        this.rootPorts = List.copyOf(ports);
        return this;
    }

    public int vcpus() {
        return vcpus;
    }

    public List<VirtioMmioDevice> virtioMmioDevices() {
        return Collections.unmodifiableList(virtioMmio);
    }

    public Dsdt.Config dsdtConfig() {
        return new Dsdt.Config(vcpus, com1, i8042, rtc, virtioMmio, pciHost, pciHotplugSlots, pcieHotplug, rootPorts);
    }

    /** The GPE0 block the FADT describes: pc's with ACPI PCI hot-plug of bus 0, q35's with that of the root ports. */
    private org.jvisor.devices.acpi.Gpe0Block.Chipset gpe0() {
        if (pciHotplugSlots != 0) {
            return org.jvisor.devices.acpi.Gpe0Block.Chipset.PIIX4;
        }
        return pcieHotplug == Dsdt.PcieHotplug.ACPI ? org.jvisor.devices.acpi.Gpe0Block.Chipset.ICH9 : null;
    }

    /** Lays the tables out in [base, base + windowSize). */
    public Image build(long base, int windowSize) {
        if ((base & 0xF) != 0) {
            throw new IllegalArgumentException("the ACPI window must be 16-byte aligned (RSDP)");
        }
        if (base < 0 || base + windowSize > 0x1_0000_0000L) {
            throw new IllegalArgumentException("the ACPI window must lie below 4 GiB (RSDT, 32-bit pointers)");
        }
        byte[] image = new byte[windowSize];
        Map<String, Long> at = new LinkedHashMap<>();
        int[] cursor = {RootTables.RSDP_SIZE};

        long facs = place(image, base, cursor, RootTables.facs(), RootTables.FACS_ALIGN);
        at.put("FACS", facs);
        long dsdt = place(image, base, cursor, Dsdt.build(dsdtConfig()), 16);
        at.put("DSDT", dsdt);
        long fadt = place(image, base, cursor, Fadt.build(facs, dsdt, i8042, vcpus, gpe0()), 16);
        at.put("FACP", fadt);
        long madt = place(image, base, cursor, Madt.build(vcpus, AcpiPm.SCI_IRQ), 16);
        at.put("APIC", madt);
        List<Long> entries = new ArrayList<>(List.of(fadt, madt));
        if (pciHost != null && pciHost.pcie()) {
            long mcfg = place(image, base, cursor,
                Mcfg.build(pciHost.ecamBase(), pciHost.segment(), pciHost.busStart(), pciHost.busEnd()), 16);
            at.put("MCFG", mcfg);
            entries.add(mcfg);
        }
        if (dmar != null) {
            long table = place(image, base, cursor, Dmar.build(dmar), 16);
            at.put("DMAR", table);
            entries.add(table);
        }
        long[] list = entries.stream().mapToLong(Long::longValue).toArray();
        long xsdt = place(image, base, cursor, RootTables.xsdt(list), 16);
        at.put("XSDT", xsdt);
        long rsdt = place(image, base, cursor, RootTables.rsdt(list), 16);
        at.put("RSDT", rsdt);
        System.arraycopy(RootTables.rsdp(xsdt, rsdt), 0, image, 0, RootTables.RSDP_SIZE);
        at.put("RSDP", base);
        return new Image(base, Arrays.copyOf(image, cursor[0]), base, Collections.unmodifiableMap(at));
    }

    private static long place(byte[] image, long base, int[] cursor, byte[] table, int align) {
        int off = (cursor[0] + align - 1) & -align;
        if (off + table.length > image.length) {
            throw new IllegalArgumentException(String.format(
                "ACPI tables do not fit the %d-byte window at %#x", image.length, base));
        }
        System.arraycopy(table, 0, image, off, table.length);
        cursor[0] = off + table.length;
        return base + off;
    }

    /** Builds the tables into guest RAM at [base, base + windowSize); returns the RSDP and the range used. */
    public Placement writeTo(GuestMemory memory, long base, int windowSize) {
        Image image = build(base, windowSize);
        memory.fill(base, windowSize, (byte) 0); // no stale table from an earlier boot stays behind
        memory.write(base, image.bytes());
        return new Placement(image.rsdpAddress(), base, image.bytes().length);
    }

    /** As {@link #writeTo(GuestMemory, long, int)} in the default window 0xE0000-0xEFFFF. */
    public Placement writeTo(GuestMemory memory) {
        return writeTo(memory, DEFAULT_BASE, DEFAULT_SIZE);
    }
}
