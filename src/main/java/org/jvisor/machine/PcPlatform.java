package org.jvisor.machine;

import java.time.Instant;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.Consumer;

import org.jvisor.cpu.Accelerator;
import org.jvisor.devices.PlatformControl;
import org.jvisor.devices.acpi.AcpiPciHotplug;
import org.jvisor.devices.acpi.AcpiPm;
import org.jvisor.devices.acpi.Gpe0Block;
import org.jvisor.devices.acpi.Ich9SmiEnable;
import org.jvisor.devices.acpi.ResetControl;
import org.jvisor.devices.acpi.SciLine;
import org.jvisor.devices.intc.IoApic;
import org.jvisor.devices.intc.LocalApic;
import org.jvisor.devices.intc.PcInterruptControllers;
import org.jvisor.devices.pci.MsiSink;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.pci.I440fxHostBridge;
import org.jvisor.devices.pci.Q35HostBridge;
import org.jvisor.devices.iommu.IntelIommu;
import org.jvisor.devices.iommu.VtdRegister;
import org.jvisor.devices.pci.PciHostBridge;
import org.jvisor.devices.pci.PciIrqRouting;
import org.jvisor.devices.legacy.I8042;
import org.jvisor.devices.legacy.I8259Pair;
import org.jvisor.devices.legacy.Pit8254;
import org.jvisor.devices.legacy.RtcCmos;
import org.jvisor.devices.legacy.SystemControlPortA;
import org.jvisor.devices.timer.Clock;
import org.jvisor.devices.timer.TimerQueue;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IrqLine;

/**
 * The PC around the CPUs: CMOS RTC, i8042, ACPI PM and reset control on every engine (on pc also
 * the GPE0 block and ACPI PCI hot-plug of bus 0, on q35 by default ICH9's GPE0 block and ACPI PCI
 * hot-plug of the root ports, sharing the SCI with the PM block); and, when
 * the engine has no in-kernel irqchip (tcg), the 8259A pair, the 8254 PIT with port 0x61, the
 * IOAPIC and one local APIC per vCPU, wired as on a PC (ISA IRQs to both PIC and IOAPIC, the PIC's
 * INTR to LINT0 as ExtINT, PIT to IOAPIC pin 2). Each device goes into the machine's
 * {@link DeviceRegistry} as it is built, interrupt controllers first (the registry says why);
 * the platform itself keeps only the wiring and the timer thread.
 */
final class PcPlatform implements AutoCloseable {
    static final long LAPIC_BASE = 0xFEE0_0000L;
    static final int RTC_IRQ = RtcCmos.IRQ;
    static final int KBD_IRQ = 1;
    static final int AUX_IRQ = 12;
    /** QEMU's fw_cfg in I/O space: selector 0x510, data 0x511, DMA address 0x514 (firmware boots). */
    static final int FW_CFG_PORT = org.jvisor.devices.fwcfg.FwCfg.PORT_SELECTOR;
    /** The BIOS area below 1 MiB that shows the end of the firmware ROM (0xE0000-0xFFFFF for 128 KiB). */
    static final long ISA_BIOS_END = org.jvisor.boot.FirmwareImage.ISA_BIOS_END;
    /** CMOS boot device bytes as QEMU and SeaBIOS use them: 0x3D first and second, 0x38 third. */
    static final int CMOS_BOOT_FLAG1 = 0x38, CMOS_BOOT_FLAG2 = 0x3D;

    private final Accelerator accel;
    private final TimerQueue timers;
    private final PcInterruptControllers controllers;
    private final ThreadLocal<LocalApic> currentLapic = new ThreadLocal<>();
    private final PciHostBridge pci;
    private final PcPciLayout pciLayout;
    /** The ACPI PM block (power button, S5), or null without ACPI (a test guest). */
    private final AcpiPm acpiPm;
    /** ACPI PCI hot-plug of bus 0 (pc with ACPI), or null. */
    private final AcpiPciHotplug acpiPciHotplug;
    /** ACPI PCI hot-plug of the root ports (q35 with ACPI in ACPI hot-plug mode), or null. */
    private final AcpiPciHotplug acpiRootPortHotplug;
    private final RtcCmos rtc;

    PcPlatform(Accelerator accel, int cpus, AddressSpace io, AddressSpace mmio, GuestMemory ram,
               PlatformControl control, boolean withAcpi, PcPciLayout pciLayout, boolean firmware,
               boolean q35, Set<Integer> pciHotplugFixedSlots, OptionalInt rootPortHotplugBuses, DeviceRegistry devices,
               Consumer<String> warn) {
        this.pciLayout = pciLayout;
        this.accel = accel;
        this.timers = new TimerQueue(Clock.host());
        if (accel.providesInterruptControllers()) {
            this.controllers = null;
        } else {
            this.controllers = new PcInterruptControllers(cpus, timers);
            controllers.register(io, mmio);
            I8259Pair pic = controllers.pic();
            devices.add(MachineDevice.of("pic", pic).onReset(pic::reset));
            IoApic ioapic = controllers.ioapic();
            devices.add(MachineDevice.of("ioapic", ioapic).onReset(ioapic::reset));
            for (int i = 0; i < cpus; i++) {
                LocalApic lapic = controllers.lapic(i);
                devices.add(MachineDevice.of("lapic" + i, lapic).onReset(lapic::reset));
            }
            // Each vCPU reaches its own LAPIC at the same address (SDM vol. 3, 10.4.1).
            mmio.register("lapic", LAPIC_BASE, 0x1000, new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    LocalApic l = currentLapic.get();
                    return l == null ? 0 : l.read(offset, size);
                }

                @Override
                public void write(long offset, int size, long value) {
                    LocalApic l = currentLapic.get();
                    if (l != null) {
                        l.write(offset, size, value);
                    }
                }
            });
            Pit8254 pit = new Pit8254(timers, controllers.isaIrq(0));
            pit.registerPorts(io);
            devices.add(MachineDevice.of("pit", pit).onReset(pit::reset));
        }
        long below4g = ram.lowSize();
        // The RTC's reset keeps its time and CMOS RAM, as the battery does.
        this.rtc = new RtcCmos(timers, Instant.now().getEpochSecond(), below4g, ram.size() - below4g, irq(RTC_IRQ));
        rtc.registerPorts(io);
        devices.add(MachineDevice.of("rtc", rtc).onReset(rtc::reset));
        // A keyboard for firmware, which resets and enables it during POST (SeaBIOS waits for its
        // answers); without firmware none, so Linux's atkbd gives up at once.
        I8042 kbc = new I8042(control, irq(KBD_IRQ), irq(AUX_IRQ), firmware);
        kbc.registerPorts(io);
        devices.add(MachineDevice.of("i8042", kbc).onReset(kbc::reset));
        if (firmware) { // what SeaBIOS enables A20 through (Linux booted directly never touches it)
            SystemControlPortA portA = new SystemControlPortA(control, enabled -> { });
            io.register("port-a", SystemControlPortA.PORT, 1, portA);
            devices.add(MachineDevice.of("port-a", portA).onReset(portA::reset));
        }
        AcpiPciHotplug hotplug = null;
        AcpiPciHotplug portHotplug = null;
        if (withAcpi) {
            boolean pcHotplug = pciHotplugFixedSlots != null && pciLayout != null && !q35;
            // The SCI is one wire shared by the PM1 events and, on pc, the GPE0 block (ACPI 6.4 4.8.5.1).
            SciLine sci = new SciLine(irq(AcpiPm.SCI_IRQ));
            acpiPm = new AcpiPm(control, sci.input(), timers);
            io.register("acpi-pm", AcpiPm.PORT_BASE, AcpiPm.SIZE, acpiPm);
            devices.add(MachineDevice.of("acpi-pm", acpiPm).onReset(acpiPm::reset));
            if (q35) { // the ICH9's PM block also holds SMI_EN, which firmware reads before setting up SMM
                io.register("ich9-smi-en", Ich9SmiEnable.PORT, Ich9SmiEnable.SIZE, new Ich9SmiEnable());
            }
            // QEMU's chipsets signal ACPI PCI hot-plug on GPE 1: PIIX4 for bus 0 (GPE0 at 0xafe0, the
            // registers at 0xae00), ICH9 for the hot-pluggable root ports (PMBASE + 0x20, 0x0cc0)
            if (pcHotplug) {
                hotplug = new AcpiPciHotplug(gpe0(io, sci, Gpe0Block.Chipset.PIIX4, devices), pciHotplugFixedSlots);
                io.register("acpi-pci-hotplug", hotplug.port(), AcpiPciHotplug.SIZE, hotplug);
            } else if (q35 && pciLayout != null && rootPortHotplugBuses.isPresent()) {
                portHotplug = AcpiPciHotplug.ich9(gpe0(io, sci, Gpe0Block.Chipset.ICH9, devices), rootPortHotplugBuses.getAsInt());
                io.register("acpi-pci-hotplug", portHotplug.port(), AcpiPciHotplug.SIZE, portHotplug);
            }
        } else {
            acpiPm = null;
        }
        this.acpiPciHotplug = hotplug;
        this.acpiRootPortHotplug = portHotplug;
        // PCI configuration mechanism #1 at 0xCF8-0xCFF; 0xCF9 (a byte port inside it) is the
        // PIIX reset control register, which the bridge hands byte accesses to (on its own
        // without PCI: microvm).
        ResetControl reset = withAcpi ? new ResetControl(control) : null;
        if (reset != null) {
            devices.add(MachineDevice.of("reset-control", reset).onReset(reset::reset));
        }
        if (pciLayout != null) {
            MsiSink msi = controllers != null ? controllers.router()::deliverMsi : accel::signalMsi;
            // Firmware knows the chipset by its host bridge: the 440FX's or the Q35 MCH's, whose
            // PAM registers decide which parts of the BIOS area below 1 MiB CPU writes reach; on
            // the Q35 firmware also places the ECAM (PCIEXBAR), which is not there before.
            PciDevice host = !firmware ? (q35 ? new Q35HostBridge() : null)
                : q35 ? Q35HostBridge.forFirmware(ram::setLowBiosReadOnly, ecamMapping(warn))
                : new I440fxHostBridge(ram::setLowBiosReadOnly);
            this.pci = host == null
                ? new PciHostBridge(io, mmio, msi, PciIrqRouting.swizzled(PcPciLayout.FIRST_GSI), this::gsi)
                : new PciHostBridge(io, mmio, msi, PciIrqRouting.swizzled(PcPciLayout.FIRST_GSI), this::gsi, host);
            pci.registerPorts(reset);
            if (!(firmware && q35)) {
                pci.registerEcam(pciLayout.ecamBase(), pciLayout.buses());
            }
            // The bus reset resets every function and places the BARs again, as firmware would.
            devices.add(MachineDevice.of("pci-host@pci.0:00.0", pci).onReset(pci::reset));
            // its reset completes pending unplugs: functions leave the bus after its reset
            if (hotplug != null) {
                devices.add(MachineDevice.of("acpi-pci-hotplug", hotplug).onReset(hotplug::reset));
            }
            if (portHotplug != null) {
                devices.add(MachineDevice.of("acpi-pci-hotplug", portHotplug).onReset(portHotplug::reset));
            }
        } else {
            this.pci = null;
            if (reset != null) {
                io.register("reset-control", ResetControl.PORT, 1, reset);
            }
        }
        timers.start();
    }

    /**
     * Where the Q35's PCIEXBAR puts the ECAM: in the memory space unless that window would
     * overlap a device there or leave the address space, which is said and leaves no window.
     */
    /** The chipset's GPE0 block on the machine's SCI, its ports claimed, reset with the machine. */
    private static Gpe0Block gpe0(AddressSpace io, SciLine sci, Gpe0Block.Chipset chipset, DeviceRegistry devices) {
        Gpe0Block gpe = new Gpe0Block(sci.input(), chipset);
        io.register("gpe0", chipset.port(), chipset.length(), gpe);
        devices.add(MachineDevice.of("gpe0", gpe).onReset(gpe::reset));
        return gpe;
    }

    private Q35HostBridge.EcamMapping ecamMapping(Consumer<String> warn) {
        return new Q35HostBridge.EcamMapping() {
            @Override
            public void map(long base, int buses) {
                try {
                    pci.registerEcam(base, buses);
                } catch (IllegalArgumentException e) {
                    warn.accept(String.format("q35: PCIEXBAR puts the ECAM of %d buses at %#x, where it cannot go "
                        + "(%s): configuration space stays at 0xCF8/0xCFC only", buses, base, e.getMessage()));
                }
            }

            @Override
            public void unmap() {
                pci.unregisterEcam();
            }
        };
    }

    /**
     * The MSI path without remapping: the APICs (tcg) or the engine's (kvm). Fault and
     * completion events of an IOMMU go here.
     */
    MsiSink rawMsi() {
        return controllers != null ? controllers.router()::deliverMsi : accel::signalMsi;
    }

    /**
     * Puts a VT-d unit at 0xFED90000 and, with {@code intremap}, in front of the APICs: the MSIs of
     * PCI functions added from now on and the IOAPIC's remappable-format entries go through it.
     * Call before any PCI device is added.
     */
    void attachIommu(AddressSpace mmio, IntelIommu iommu, boolean intremap) {
        mmio.register("intel-iommu", IntelIommu.BASE, VtdRegister.WINDOW, iommu);
        if (intremap && pci != null) {
            pci.setMsiRemapper(iommu::remapInterrupt);
            if (controllers != null) {
                controllers.ioapic().setRemapper(iommu::remapInterrupt, IntelIommu.IOAPIC_SOURCE_ID);
            }
        }
    }

    /** The devfn of every function on PCI bus 0 (the host bridge's included), in bus order. */
    java.util.List<Integer> pciDevfns() {
        java.util.List<Integer> l = new java.util.ArrayList<>();
        if (pci != null) {
            for (int s = 0; s < PciHostBridge.SLOTS; s++) {
                for (int f = 0; f < PciHostBridge.FUNCTIONS; f++) {
                    if (pci.device(s, f) != null) {
                        l.add(s << 3 | f);
                    }
                }
            }
        }
        return l;
    }

    /** Plugs a PCI function into the next free slot; returns the slot. */
    int addPci(PciDevice device) {
        if (pci == null) {
            throw new IllegalStateException("this machine has no PCI bus");
        }
        return pci.add(device);
    }

    /** Plugs a PCI function into {@code slot} (function 0); taken, it is an IllegalArgumentException. */
    int addPci(PciDevice device, int slot) {
        if (pci == null) {
            throw new IllegalStateException("this machine has no PCI bus");
        }
        pci.add(slot, device);
        return slot;
    }

    /** Plugs a PCI function into {@code slot}.{@code function}; taken, it is an IllegalArgumentException. */
    void addPci(PciDevice device, int slot, int function) {
        if (pci == null) {
            throw new IllegalStateException("this machine has no PCI bus");
        }
        pci.add(slot, function, device);
    }

    /** Plugs a PCI function behind {@code port} at 00.0 (a link's only device); taken, it is an IllegalArgumentException. */
    void addPci(org.jvisor.devices.pci.PcieRootPort port, PciDevice device) {
        pci.add(port, 0, device);
    }

    /** Unplugs the function at 00.0 behind {@code port} (its slot shows the card gone). */
    void removePci(org.jvisor.devices.pci.PcieRootPort port) {
        pci.remove(port, 0);
    }

    /** Unplugs the function at {@code slot}.0 of the root bus. */
    void removePci(int slot) {
        pci.remove(slot, 0);
    }

    /** Places every BAR and enables decoding, as firmware would; once all devices are added. */
    void assignPciResources() {
        if (pci != null) {
            pci.assignResources(pciLayout.windows());
        }
    }

    /**
     * The boot devices in QEMU's CMOS encoding (SeaBIOS reads them on QEMU): drive letters
     * a floppy (1), c disk (2), d CD-ROM (3), n network (4), at most three, in order.
     */
    void setBootOrder(String letters) {
        int[] dev = new int[3];
        for (int i = 0; i < Math.min(3, letters.length()); i++) {
            dev[i] = switch (letters.charAt(i)) {
                case 'a', 'b' -> 1;
                case 'c' -> 2;
                case 'd' -> 3;
                default -> 4; // n-p: network
            };
        }
        rtc.writeRegister(CMOS_BOOT_FLAG2, dev[1] << 4 | dev[0]);
        rtc.writeRegister(CMOS_BOOT_FLAG1, dev[2] << 4 | 1); // bit 0: skip the floppy signature check
    }

    /**
     * ACPI PCI hot-plug of bus 0 (QEMU's acpi-pci-hotplug of the PIIX4): on the pc machine with
     * ACPI (a Linux or firmware boot), null elsewhere (q35, microvm, a test guest).
     */
    AcpiPciHotplug acpiPciHotplug() {
        return acpiPciHotplug;
    }

    /**
     * ACPI PCI hot-plug of the PCI Express root ports (QEMU 7.2's ICH9 with
     * acpi-pci-hotplug-with-bridge-support=on): on q35 with ACPI in that mode, null elsewhere
     * (pc, microvm, a test guest, q35 with native hot-plug).
     */
    AcpiPciHotplug acpiRootPortHotplug() {
        return acpiRootPortHotplug;
    }

    /** Presses the ACPI power button; false when the platform has no ACPI PM (no Linux guest). */
    boolean pressPowerButton() {
        if (acpiPm == null) {
            return false;
        }
        acpiPm.pressPowerButton();
        return true;
    }

    /** The wire of ISA IRQ {@code n} (0-15), to whichever interrupt controllers this engine has. */
    IrqLine irq(int n) {
        return controllers != null ? controllers.isaIrq(n) : accel.irqLine(n);
    }

    /** The wire of IOAPIC input {@code gsi}. */
    IrqLine gsi(int gsi) {
        return controllers != null ? controllers.gsi(gsi) : accel.irqLine(gsi);
    }

    /** The time base of the platform's timers (PIT, RTC, LAPIC timers). */
    Clock clock() {
        return timers.clock();
    }

    /** The local APIC of vCPU {@code index}, or null when the engine has its own. */
    LocalApic lapic(int index) {
        return controllers == null ? null : controllers.lapic(index);
    }

    /** Called on a vCPU's own thread before it first runs: its LAPIC answers that thread's accesses. */
    void bindCurrentThread(int vcpu) {
        if (controllers != null) {
            currentLapic.set(controllers.lapic(vcpu));
        }
    }

    /** Stops the timer thread; the devices are closed through the registry. */
    @Override
    public void close() {
        timers.close();
    }
}
