package org.jvisor.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.jvisor.config.MachineConfig;

/**
 * -device DRIVER,prop=value... and its JSON form {"driver":...}: the devices jvisor has, their
 * properties checked as QEMU checks them. The properties every device takes (id=, and bus=,
 * addr= on PCI) are read here; the rest go to the device's own parser.
 */
final class DeviceOptions {
    /** Every device model jvisor has (QMP's discovery answers from the same list), for messages. */
    static final List<String> KNOWN = org.jvisor.qmp.DeviceModel.names();
    /**
     * QEMU's -non-transitional variants of virtio-X-pci: modern-only (disable-legacy=on), which is
     * what jvisor's virtio-pci devices always are, so the same device under another name.
     */
    private static final String NON_TRANSITIONAL = "-non-transitional";
    /** virtio-pci's own properties, taken by every virtio-X-pci device (QEMU's virtio-pci class). */
    private static final Set<String> VIRTIO_PCI_PROPERTIES = Set.of("iommu_platform", "ats", "disable-legacy",
        "disable-modern");

    /**
     * -device ide-hd|ide-cd,drive=ID[,bus=ide.N][,unit=M] (libvirt's spelling of an IDE drive):
     * {@code bus} 0-5 or -1 and {@code unit} 0/1 or -1 where not given (the first free place).
     */
    record IdeDevice(String drive, int bus, int unit, MachineConfig.IdeDriveConfig.Media media, String controller) {
    }

    /** -device ahci|ich9-ahci[,id=ID][,addr=SLOT]: a further AHCI controller (its buses are ID.0-ID.5). */
    record AhciController(String id, Integer slot) {
    }

    private final List<MachineConfig.DebugExitConfig> debugExits = new ArrayList<>();
    private final List<MachineConfig.VirtioDeviceConfig> virtioDevices = new ArrayList<>();
    /** rng= of the virtio-rng devices that give one, by index in {@link #virtioDevices}. */
    private final Map<Integer, String> rngUsers = new LinkedHashMap<>();
    /** id= of each device that has one, with its driver: QOM's /machine/peripheral children. */
    private final Map<String, String> peripherals = new LinkedHashMap<>();
    /** -device virtio-blk-*,drive=NAME whose NAME must be a -drive id or a -blockdev node, checked at the end. */
    private final List<String> blockDrives = new ArrayList<>();
    /** drive= of each virtio-blk device, with the device's id ("" without one). */
    private final Map<String, String> driveUsers = new LinkedHashMap<>();
    /** The anonymous drives of -device ide-cd without drive=: empty CD-ROM drives. */
    private final List<String> emptyDrives = new ArrayList<>();
    private final List<IdeDevice> ideDevices = new ArrayList<>();
    private final List<AhciController> ahciControllers = new ArrayList<>();
    /** iothread= of each virtio-blk device that gives one, with the device's driver; checked at the end. */
    private final Map<String, String> ioThreadUsers = new LinkedHashMap<>();
    private String isaSerialChardev;
    /** addr=SLOT of the PCI devices that give one, by their index in {@link #virtioDevices}. */
    private final Map<Integer, Integer> pciSlots = new LinkedHashMap<>();
    /** iommu_platform=/ats= of the virtio-pci devices that give them, by index in {@link #virtioDevices}. */
    private final Map<Integer, MachineConfig.PciDmaConfig> pciDma = new LinkedHashMap<>();
    private MachineConfig.IommuConfig iommu;
    private final List<MachineConfig.PcieRootPortConfig> pcieRootPorts = new ArrayList<>();
    /** id= of the virtio devices that give one, by index in {@link #virtioDevices}. */
    private final Map<Integer, String> deviceIds = new LinkedHashMap<>();
    /** bus=ID of the virtio-pci devices behind a root port, by index in {@link #virtioDevices}. */
    private final Map<Integer, String> pciBuses = new LinkedHashMap<>();
    /** The root bus names devices gave (pci.0, pcie.0), with a device that named each: checked against the machine. */
    private final Map<String, String> rootBuses = new LinkedHashMap<>();
    /** chassis.slot of each root port: QEMU refuses two ports with the same pair. */
    private final Set<String> portSlots = new java.util.HashSet<>();

    void add(String text, ChardevOptions chardevs) throws UsageException {
        OptionList all = JsonOptions.isJson(text) ? JsonOptions.parse("-device", text, "driver")
            : OptionList.parse("-device", text, true);
        int index = virtioDevices.size();
        add(all, chardevs);
        if (virtioDevices.size() > index && all.get("id") != null) {
            deviceIds.put(index, all.get("id"));
        }
    }

    private void add(OptionList all, ChardevOptions chardevs) throws UsageException {
        String driver = all.implied() != null ? all.implied() : all.get("driver");
        if (driver == null || driver.isEmpty()) {
            throw new UsageException("-device: no device type given (the device's name comes first, e.g. virtio-blk-pci,drive=ID)");
        }
        String typeName = driver;
        if (driver.endsWith("-pci" + NON_TRANSITIONAL) && KNOWN.contains(driver)) {
            driver = driver.substring(0, driver.length() - NON_TRANSITIONAL.length());
        }
        if (driver.equals("pcie-root-port")) {
            rootPort(common(all, driver, MachineConfig.Transport.PCI), all);
            return;
        }
        MachineConfig.Transport transport = MachineConfig.Transport.ofDeviceName(driver);
        if (all.get("iothread") != null && !driver.equals("virtio-blk-pci") && !driver.equals("virtio-blk-device")) {
            throw new UsageException("-device " + driver + ": iothread= is supported on virtio-blk-pci and "
                + "virtio-blk-device only (jvisor's other devices are served on their own threads)");
        }
        if (driver.equals("ahci") || driver.equals("ich9-ahci")) {
            common(all, driver, MachineConfig.Transport.PCI).allowOnly(Set.of(), driver);
            requireRootBus(driver, all.get("bus"));
            ahciControllers.add(new AhciController(all.get("id"), pciSlot(driver, all.get("addr"))));
            return;
        }
        OptionList o = common(all, driver, transport);
        if (all.get("id") != null && !typeName.equals(driver)) {
            peripherals.put(all.get("id"), typeName);
        }
        String pciBus = all.get("bus");
        if (transport == MachineConfig.Transport.PCI && pciBus != null && !isRootBus(pciBus)) {
            // behind a root port: device 0 of its secondary bus, the only one a PCIe link has
            String addr = all.get("addr");
            if (addr != null && !addr.matches("(0x)?0+(\\.(0x)?0+)?")) {
                throw new UsageException("-device " + driver + ": addr=" + addr + " behind " + pciBus
                    + ": a root port's link has device 0, function 0 only in jvisor (addr=0x0)");
            }
            pciBuses.put(virtioDevices.size(), pciBus);
        } else {
            Integer slot = pciSlot(driver, all.get("addr"));
            if (slot != null) {
                pciSlots.put(virtioDevices.size(), slot);
            }
        }
        String base = transport == null ? "" : driver.substring(0, driver.lastIndexOf('-'));
        if (transport == MachineConfig.Transport.PCI || VhostUserOptions.handlesDevice(driver) && driver.endsWith("-pci")) {
            o = virtioPciProperties(o, driver);
        }
        if (VhostUserOptions.handlesDevice(driver)) {
            virtioDevices.add(VhostUserOptions.parse(o, chardevs));
        } else if (base.equals("virtio-rng")) {
            o.allowOnly(Set.of("ioeventfd", "rng", "max-bytes", "period"), driver);
            if (o.get("rng") != null) {
                rngUsers.put(virtioDevices.size(), o.get("rng"));   // resolved once every -object is known
            }
            virtioDevices.add(new MachineConfig.VirtioDeviceConfig.VirtioRng(transport,
                CommandLine.onOff("-device " + driver, "ioeventfd", o.get("ioeventfd")), new MachineConfig.RngBackend.Builtin(),
                rngLimit(driver, "max-bytes", o.get("max-bytes"), MachineConfig.VirtioDeviceConfig.VirtioRng.UNLIMITED),
                rngLimit(driver, "period", o.get("period"), MachineConfig.VirtioDeviceConfig.VirtioRng.DEFAULT_PERIOD_MILLIS)));
        } else if (base.equals("virtio-blk")) {
            o.allowOnly(Set.of("drive", "bootindex", "iothread", "ioeventfd"), driver);
            if (o.get("drive") == null) {
                throw new UsageException("-device " + driver + ": drive=ID is required");
            }
            // bootindex: jvisor boots -kernel directly, as QEMU does when given one; the order is moot
            blockDrives.add(o.get("drive"));
            driveUsers.put(o.get("drive"), all.get("id") == null ? "" : all.get("id"));
            String iothread = o.get("iothread");
            if (iothread != null) {
                ioThreadUsers.put(iothread, driver);
            }
            virtioDevices.add(new MachineConfig.VirtioDeviceConfig.VirtioBlk(o.get("drive"), transport, iothread,
                CommandLine.onOff("-device " + driver, "ioeventfd", o.get("ioeventfd"))));
        } else if (driver.equals("ide-hd") || driver.equals("ide-cd")) {
            o.allowOnly(Set.of("drive", "bootindex", "unit"), driver);
            String drive = o.get("drive");
            if (drive == null && driver.equals("ide-hd")) {
                throw new UsageException("-device ide-hd: drive=ID is required (only a CD-ROM drive may be empty)");
            }
            if (drive == null) {
                // an empty CD-ROM drive (libvirt's for a cdrom without <source>): an anonymous drive, as
                // QEMU's, named after the device for jvisor's own bookkeeping
                drive = "#" + (all.get("id") != null ? all.get("id") : "ide-cd" + ideDevices.size());
                emptyDrives.add(drive);
            } else {
                blockDrives.add(drive);
            }
            driveUsers.put(drive, all.get("id") == null ? "" : all.get("id"));
            String bus = all.get("bus");
            // ide.0-ide.1 on pc's PIIX3, ide.0-ide.5 on q35's AHCI (checked once the machine is known),
            // ID.0-ID.5 on a -device ahci,id=ID
            String controller = null;
            int busIndex = bus == null ? -1 : bus.matches("ide\\.[0-5]") ? bus.charAt(4) - '0' : -2;
            if (busIndex == -2 && bus.matches(".+\\.[0-5]") && !bus.startsWith("ide.")) {
                controller = bus.substring(0, bus.length() - 2);
                busIndex = bus.charAt(bus.length() - 1) - '0';
            }
            if (busIndex == -2) {
                throw new UsageException("-device " + driver + ": Bus '" + bus + "' not found (the IDE buses are ide.0 and "
                    + "ide.1, ide.0 to ide.5 on q35)");
            }
            int unit = (int) parseNumber(o, driver, "unit", -1, 1);
            ideDevices.add(new IdeDevice(drive, busIndex, unit, driver.equals("ide-cd")
                ? MachineConfig.IdeDriveConfig.Media.CDROM : MachineConfig.IdeDriveConfig.Media.DISK, controller));
        } else if (base.equals("virtio-net")) {
            virtioDevices.add(NetOptions.parseNic(o, transport));
        } else if (base.equals("virtio-balloon")) {
            o.allowOnly(Set.of("deflate-on-oom", "free-page-reporting", "free-page-hint"), driver);
            for (String unsupported : new String[] {"free-page-reporting", "free-page-hint"}) {
                if (o.get(unsupported) != null && CommandLine.onOff("-device " + driver, unsupported, o.get(unsupported))) {
                    throw new UsageException("-device " + driver + ": " + unsupported + "=on is not supported "
                        + "(jvisor's balloon gives back the pages the driver inflates)");
                }
            }
            if (virtioDevices.stream().anyMatch(d -> d instanceof MachineConfig.VirtioDeviceConfig.VirtioBalloon)) {
                throw new UsageException("-device " + driver + ": Only one balloon device is supported");   // QEMU's words
            }
            virtioDevices.add(new MachineConfig.VirtioDeviceConfig.VirtioBalloon(transport, o.get("deflate-on-oom") != null
                && CommandLine.onOff("-device " + driver, "deflate-on-oom", o.get("deflate-on-oom"))));
        } else if (ChardevOptions.handlesDevice(base, driver)) {
            chardevs.device(o, transport, virtioDevices);
        } else if (driver.equals("isa-serial")) {
            o.allowOnly(Set.of("chardev", "index", "iobase", "irq"), driver);
            if (isaSerialChardev != null) {
                throw new UsageException("-device isa-serial: jvisor has one serial port (COM1), already given");
            }
            if (o.get("index") != null && !o.get("index").equals("0")) {
                throw new UsageException("-device isa-serial: index=" + o.get("index") + ": jvisor has COM1 only (index=0)");
            }
            if (o.get("iobase") != null && parseNumber(o, driver, "iobase", 0, 0xFFFF) != 0x3F8
                    || o.get("irq") != null && parseNumber(o, driver, "irq", 0, 15) != 4) {
                throw new UsageException("-device isa-serial: jvisor's serial port is COM1 (iobase=0x3f8, irq=4)");
            }
            String chardev = o.get("chardev");
            if (chardev == null || chardev.isEmpty()) {
                throw new UsageException("-device isa-serial: chardev=ID is required (jvisor makes no default backend for it)");
            }
            isaSerialChardev = chardev;
        } else if (driver.equals("intel-iommu")) {
            iommu = IommuOptions.parse(o, iommu != null);
        } else if (driver.equals("isa-debug-exit")) {
            o.allowOnly(Set.of("iobase", "iosize"), driver);
            int iobase = (int) parseNumber(o, driver, "iobase", 0x501, 0xFFFF);
            int iosize = (int) parseNumber(o, driver, "iosize", 0x02, 0x10000);
            if (iosize < 1 || iobase + iosize > 0x10000) {
                throw new UsageException(String.format("-device isa-debug-exit: ports [%#x, +%#x) lie outside the 64 KiB port space", iobase, iosize));
            }
            debugExits.add(new MachineConfig.DebugExitConfig(iobase, iosize));
        } else {
            throw new UsageException("-device: '" + driver + "' is not a device jvisor has (known: " + String.join(", ", KNOWN) + ")");
        }
    }

    /**
     * The properties of every device: id= (unique), and for a PCI device bus=pci.0 and addr=SLOT
     * (read by {@link #pciSlot}). Returns the rest.
     */
    private OptionList common(OptionList o, String driver, MachineConfig.Transport transport) throws UsageException {
        Map<String, String> rest = new LinkedHashMap<>(o.values());
        rest.remove("driver");
        String id = rest.remove("id");
        if (id != null) {
            if (id.isEmpty() || !Character.isLetter(id.charAt(0))) {
                throw new UsageException("-device " + driver + ": Parameter 'id' expects an identifier");
            }
            if (peripherals.putIfAbsent(id, driver) != null) {
                throw new UsageException("-device " + driver + ": Duplicate device ID '" + id + "'");
            }
        }
        String bus = rest.remove("bus");
        String addr = rest.remove("addr");
        if (transport == MachineConfig.Transport.PCI) {
            if (bus != null && isRootBus(bus)) {
                rootBuses.putIfAbsent(bus, driver);
            } else if (bus != null && pcieRootPorts.stream().noneMatch(p -> bus.equals(p.id()))) {
                throw new UsageException("-device " + driver + ": Bus '" + bus + "' not found (the root bus is pci.0 on pc, "
                    + "pcie.0 on q35; a pcie-root-port's bus is its id, given before the devices behind it)");
            }
        } else if (bus != null || addr != null) {
            if (!(driver.startsWith("isa-") && (bus == null || bus.equals("isa.0")) && addr == null)
                    && !(driver.startsWith("ide-") && addr == null)
                    && !(ChardevOptions.handlesDevice("", driver) && addr == null)) {
                throw new UsageException("-device " + driver + ": bus=/addr= " + (bus != null ? bus : addr)
                    + " is not a place this device can go in jvisor");
            }
        }
        return new OptionList(o.option(), driver, rest);
    }

    private static boolean isRootBus(String bus) {
        return bus.equals("pci.0") || bus.equals("pcie.0");
    }

    private void requireRootBus(String driver, String bus) throws UsageException {
        if (bus != null && !isRootBus(bus)) {
            throw new UsageException("-device " + driver + ",bus=" + bus + ": jvisor puts " + driver + " on the root bus only");
        }
    }

    /**
     * -device pcie-root-port[,id=ID][,bus=pcie.0][,addr=SLOT[.FUNCTION]][,port=N][,chassis=N][,slot=N]
     * [,multifunction=on|off][,hotplug=on|off] (QEMU's generic root port, as libvirt gives q35's): the devices with
     * bus=ID sit behind it.
     */
    private void rootPort(OptionList o, OptionList all) throws UsageException {
        String driver = "pcie-root-port";
        o.allowOnly(Set.of("port", "chassis", "slot", "multifunction", "hotplug"), driver);
        requireRootBus(driver, all.get("bus"));
        int port = (int) parseNumber(o, driver, "port", 0, 0xFF);
        int chassis = (int) parseNumber(o, driver, "chassis", 0, 0xFF);
        int slot = (int) parseNumber(o, driver, "slot", 0, 0x1FFF);
        if (!portSlots.add(chassis + "." + slot)) {
            // QEMU 7.2's words (pcie_chassis_add_slot: EBUSY)
            throw new UsageException("-device " + driver + ": Can't add chassis slot, error -16 (another port has chassis="
                + chassis + ",slot=" + slot + ")");
        }
        boolean multifunction = CommandLine.onOff("-device " + driver, "multifunction", o.values().getOrDefault("multifunction", "off"));
        String addr = all.get("addr");
        Integer at = null;
        int function = 0;
        if (addr != null) {
            int dot = addr.indexOf('.');
            at = pciSlot(driver, dot < 0 ? addr : addr.substring(0, dot));
            if (dot >= 0) {
                try {
                    function = Integer.parseInt(addr.substring(dot + 1).replaceFirst("^0[xX]", ""), 16);
                } catch (NumberFormatException e) {
                    function = -1;
                }
                if (function < 0 || function > 7) {
                    throw new UsageException("-device " + driver + ": addr='" + addr + "' is not a PCI slot (expected SLOT[.FUNCTION], "
                        + "function 0-7)");
                }
            }
        }
        if (function != 0 && at == null) {
            throw new UsageException("-device " + driver + ": addr=" + addr + ": a function needs a slot");
        }
        boolean hotplug = CommandLine.onOff("-device " + driver, "hotplug", o.values().getOrDefault("hotplug", "on"));
        pcieRootPorts.add(new MachineConfig.PcieRootPortConfig(all.get("id"), at, function, port, slot, multifunction, hotplug));
    }

    /** The machine's root ports, known before a device that names one of them (device_add's). */
    void knownRootPorts(List<MachineConfig.PcieRootPortConfig> ports) {
        pcieRootPorts.addAll(ports);
    }

    /** -device pcie-root-port, in command-line order. */
    List<MachineConfig.PcieRootPortConfig> pcieRootPorts() {
        return List.copyOf(pcieRootPorts);
    }

    /** id= of the virtio devices that give one, by index in {@link #virtioDevices()}. */
    Map<Integer, String> deviceIds() {
        return Map.copyOf(deviceIds);
    }

    /** bus=ID of the devices behind a root port, by index in {@link #virtioDevices()}. */
    Map<Integer, String> pciBuses() {
        return Map.copyOf(pciBuses);
    }

    /**
     * What only the machine decides: pcie-root-port and bus=pcie.0 are q35's (its root bus is
     * pcie.0, pc's pci.0); the IOMMU and ATS see the root bus only in jvisor.
     */
    void checkMachine(MachineConfig.MachineType type) throws UsageException {
        boolean q35 = type == MachineConfig.MachineType.Q35;
        if (!pcieRootPorts.isEmpty() && !q35) {
            throw new UsageException("-device pcie-root-port: the " + type.qemuName()
                + " machine has no PCI Express root bus (use -machine q35)");
        }
        if (rootBuses.containsKey("pcie.0") && !q35) {
            throw new UsageException("-device " + rootBuses.get("pcie.0") + ": Bus 'pcie.0' not found (the "
                + type.qemuName() + " machine's root bus is pci.0)");
        }
        for (Integer index : pciBuses.keySet()) {
            if (iommu != null || pciDma.containsKey(index)) {
                throw new UsageException("-device " + virtioDevices.get(index).qemuName() + ",bus=" + pciBuses.get(index)
                    + ": jvisor's IOMMU, iommu_platform= and ats= cover the root bus only; put the device on pcie.0");
            }
        }
    }

    /**
     * Takes virtio-pci's properties out of {@code o}: iommu_platform and ats (kept for the
     * device), and disable-legacy/disable-modern, which can only say what jvisor's devices are:
     * modern-only (virtio 1.0 and later, no legacy I/O BAR).
     */
    private OptionList virtioPciProperties(OptionList o, String driver) throws UsageException {
        Map<String, String> rest = new LinkedHashMap<>(o.values());
        String where = "-device " + driver;
        boolean iommuPlatform = CommandLine.onOff(where, "iommu_platform", rest.getOrDefault("iommu_platform", "off"));
        boolean ats = CommandLine.onOff(where, "ats", rest.getOrDefault("ats", "off"));
        String legacy = rest.get("disable-legacy");
        if (legacy != null && !legacy.equals("auto") && !CommandLine.onOff(where, "disable-legacy", legacy)) {
            throw new UsageException(where + ": disable-legacy=off: jvisor's virtio-pci devices are modern-only "
                + "(no legacy or transitional device); leave it out or give disable-legacy=on");
        }
        String modern = rest.get("disable-modern");
        if (modern != null && CommandLine.onOff(where, "disable-modern", modern)) {
            throw new UsageException(where + ": disable-modern=on: jvisor's virtio-pci devices are modern-only "
                + "(there is no legacy device to fall back to)");
        }
        if (iommuPlatform && VhostUserOptions.handlesDevice(driver)) {
            // The backend reads the rings itself: behind an IOMMU it needs the IOTLB exchange
            // (VHOST_USER_IOTLB_MSG, misses over the backend channel), which QEMU 7.2 asks of it
            // in these words and jvisor's frontend does not speak.
            throw new UsageException(where + ",iommu_platform=on: IOMMU support requires reply-ack and slave-req protocol "
                + "features. (jvisor's vhost-user sends no IOTLB messages, so the backend could not translate the "
                + "guest's IOVAs; leave iommu_platform off)");
        }
        VIRTIO_PCI_PROPERTIES.forEach(rest::remove);
        if (iommuPlatform || ats) {
            pciDma.put(virtioDevices.size(), new MachineConfig.PciDmaConfig(iommuPlatform, ats));
        }
        return new OptionList(o.option(), o.implied(), rest);
    }

    /** -device intel-iommu, or null. */
    MachineConfig.IommuConfig iommu() {
        return iommu;
    }

    /** iommu_platform=/ats= by index in {@link #virtioDevices()}. */
    Map<Integer, MachineConfig.PciDmaConfig> pciDma() {
        return Map.copyOf(pciDma);
    }

    /** The devices with an id=, by id, with their QEMU type names (QMP's qom-list /machine/peripheral). */
    Map<String, String> peripherals() {
        return Map.copyOf(peripherals);
    }

    /** addr=SLOT of the PCI devices that give one, by index in {@link #virtioDevices()}. */
    Map<Integer, Integer> pciSlots() {
        return Map.copyOf(pciSlots);
    }

    /**
     * QEMU's addr=SLOT[.FUNCTION] of a PCI device (hex, 0x optional), as a slot: function 0 only
     * (jvisor has no multi-function devices); slot 0 is the host bridge's. Null without addr=.
     */
    private static Integer pciSlot(String driver, String addr) throws UsageException {
        if (addr == null) {
            return null;
        }
        String bad = "-device " + driver + ": addr='" + addr + "' is not a PCI slot (expected SLOT[.FUNCTION], e.g. 0x2)";
        String[] parts = addr.split("\\.", -1);
        if (parts.length > 2) {
            throw new UsageException(bad);
        }
        int slot;
        int function = 0;
        try {
            slot = Integer.parseInt(parts[0].replaceFirst("^0[xX]", ""), 16);
            if (parts.length == 2) {
                function = Integer.parseInt(parts[1].replaceFirst("^0[xX]", ""), 16);
            }
        } catch (NumberFormatException e) {
            throw new UsageException(bad);
        }
        if (slot < 1 || slot > 31) {
            throw new UsageException("-device " + driver + ": addr=" + addr + ": slot " + slot
                + " is out of range (1-31; 0 is the host bridge)");
        }
        if (function != 0) {
            throw new UsageException("-device " + driver + ": addr=" + addr + ": function " + function
                + " (jvisor puts each device at function 0)");
        }
        return slot;
    }

    List<MachineConfig.DebugExitConfig> debugExits() {
        return debugExits;
    }

    List<MachineConfig.VirtioDeviceConfig> virtioDevices() {
        return virtioDevices;
    }

    /** The id of the device whose drive= is {@code drive} ("" if it has none). */
    /** The anonymous drives of the -device ide-cd without drive=, in command-line order. */
    List<String> emptyDrives() {
        return emptyDrives;
    }

    /** Every drive= a device named, with that device's id ("" without one). */
    Map<String, String> driveUsers() {
        return driveUsers;
    }

    String deviceIdOfDrive(String drive) {
        return driveUsers.getOrDefault(drive, "");
    }

    /**
     * max-bytes= (QEMU's uint64, no more than INT64_MAX) or period= (milliseconds, uint32, more
     * than 0) of a virtio-rng, in QEMU 7.2's words when wrong.
     */
    private static long rngLimit(String driver, String key, String value, long dflt) throws UsageException {
        if (value == null) {
            return dflt;
        }
        long v;
        try {
            v = Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new UsageException("-device " + driver + ": Parameter '" + key + "' expects "
                + (key.equals("period") ? "uint32_t" : "uint64_t"));
        }
        if (key.equals("period") && (v <= 0 || v > 0xFFFF_FFFFL)) {
            throw new UsageException("-device " + driver + "," + key + "=" + value + ": 'period' parameter expects a positive integer");
        }
        if (v < 0) {
            throw new UsageException("-device " + driver + "," + key + "=" + value
                + ": 'max-bytes' parameter must be non-negative, and less than 2^63");
        }
        return v;
    }

    /** Whether a virtio-rng named an -object by rng=. */
    boolean namesRngObjects() {
        return !rngUsers.isEmpty();
    }

    /**
     * Puts the rng backend each virtio-rng's rng= names into {@code devices} (indexed as
     * {@link #virtioDevices()}): an -object rng-builtin or rng-random, given anywhere on the line.
     */
    void resolveRng(List<MachineConfig.VirtioDeviceConfig> devices, ObjectOptions objects) throws UsageException {
        for (Map.Entry<Integer, String> e : rngUsers.entrySet()) {
            MachineConfig.VirtioDeviceConfig.VirtioRng r = (MachineConfig.VirtioDeviceConfig.VirtioRng) devices.get(e.getKey());
            MachineConfig.RngBackend backend = objects.rngBackend(e.getValue());
            if (backend == null) {
                // QEMU 7.2's words
                throw new UsageException("-device " + (r.transport() == MachineConfig.Transport.PCI ? "virtio-rng-pci" : "virtio-rng-device")
                    + ",rng=" + e.getValue() + ": Device '" + e.getValue() + "' not found (give -object rng-random,id="
                    + e.getValue() + " or rng-builtin)");
            }
            devices.set(e.getKey(), new MachineConfig.VirtioDeviceConfig.VirtioRng(r.transport(), r.ioeventfd(), backend,
                r.maxBytes(), r.periodMillis()));
        }
    }

    /** The iothread= names the devices gave, each with the driver of a device that gave it. */
    Map<String, String> ioThreadUsers() {
        return ioThreadUsers;
    }

    /** The drive= names of the virtio-blk devices. */
    List<String> blockDrives() {
        return blockDrives;
    }

    /** The -device ahci controllers, in command-line order. */
    List<AhciController> ahciControllers() {
        return ahciControllers;
    }

    /** The -device ide-hd/ide-cd drives, in command-line order. */
    List<IdeDevice> ideDevices() {
        return ideDevices;
    }

    /** The chardev of -device isa-serial (COM1), or null. */
    String isaSerialChardev() {
        return isaSerialChardev;
    }

    private static long parseNumber(OptionList o, String driver, String key, long dflt, long max) throws UsageException {
        String v = o.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            long n = v.toLowerCase(Locale.ROOT).startsWith("0x") ? Long.parseLong(v.substring(2), 16) : Long.parseLong(v);
            if (n < 0 || n > max) {
                throw new UsageException("-device " + driver + ": " + key + "=" + v + " is out of range (0-" + max + ")");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("-device " + driver + ": " + key + "='" + v + "' is not a number");
        }
    }
}
