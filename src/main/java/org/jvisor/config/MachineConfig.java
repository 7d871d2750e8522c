package org.jvisor.config;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Everything needed to build a machine: what jvisor's QEMU-style command line fills, and what a
 * Java program embedding jvisor gives {@code org.jvisor.api.VirtualMachine.create}. Components
 * carry QEMU's meaning; the option each one comes from is named in its documentation. Build one
 * with {@link #builder()}.
 *
 * @param accel            -accel: the CPU engine
 * @param memoryBytes      -m: guest RAM in bytes (a multiple of 4 KiB)
 * @param cpus             -smp: the number of vCPUs (1-255)
 * @param kernel           -kernel: a Linux bzImage or vmlinux, or an ELF64 test guest
 * @param initrd           -initrd: the initial ramdisk, or null
 * @param append           -append: the kernel command line, or null
 * @param decompressOnHost -machine kernel-decompress=host (true) or guest (false)
 * @param serial           -serial: where COM1 goes
 * @param noReboot         -no-reboot: a reset request shuts the machine down instead
 * @param noShutdown       -no-shutdown: a guest power-off stops the vCPUs (status shutdown)
 *                         instead of ending the machine
 * @param debugExits       -device isa-debug-exit
 * @param drives           -drive: disk images
 * @param virtioDevices    -device virtio-*: the virtio devices in bus order
 * @param traces           -trace: trace events ("exits", "migration")
 * @param debugLog         -d: log items ("guest_errors", "unimp", "boot", "jit")
 * @param machineType      -machine: pc or microvm
 * @param chardevs         -chardev: character devices
 * @param netdevs          -netdev: network backends
 * @param jit              -accel tcg,jit=,jit-threshold=: the tcg engine's bytecode translator
 * @param name             -name: the guest's name for management tools (QMP query-name), or null
 * @param memoryBackend    -machine memory-backend=ID with its -object memory-backend-memfd|file:
 *                         where guest RAM lives, or null for anonymous memory
 * @param firmware         -bios and -boot: the firmware a machine without -kernel boots
 * @param pciSlots         -device virtio-X-pci,addr=SLOT: the PCI slot of the virtio device at
 *                         that index of {@code virtioDevices}; the others take the first free slot
 * @param iommu            -device intel-iommu (q35 only), or null for none
 * @param pciDma           -device virtio-X-pci,iommu_platform=on,ats=on: the DMA options of the
 *                         virtio device at that index of {@code virtioDevices} (absent: both off)
 * @param ideDrives        -hda..-hdd, -cdrom, -drive if=ide: the drives on the pc machine's IDE
 *                         controller, each on a {@code drives} entry
 * @param ioThreads        -object iothread: the threads that devices with iothread=ID share
 * @param ahciControllers  -device ahci: further AHCI controllers with their drives
 * @param cpu              -cpu: the vCPU model
 * @param uuid             -uuid: the system UUID the guest reads from SMBIOS (QMP query-uuid), or null
 * @param pcieRootPorts    -device pcie-root-port (q35): the root ports on the root bus
 * @param pciBuses         -device virtio-X-pci,bus=ID: the root port (its id) the virtio device at
 *                         that index of {@code virtioDevices} sits behind; the others are on the root bus
 * @param deviceIds        -device ...,id=ID of the virtio device at that index of {@code virtioDevices}
 *                         (device_del takes a PCI one out by it)
 * @param memMerge         -machine mem-merge=on|off: guest RAM may be merged with identical pages of
 *                         other guests by the host kernel's KSM (on, as QEMU's default)
 * @param rngSeed          -machine rng-seed=on|off: a Linux kernel booted with -kernel gets a fresh
 *                         seed for its random number generator (setup_data SETUP_RNG_SEED) at each boot
 * @param acpiPcieHotplug  -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=on|off (q35): the
 *                         pcie-root-ports hot-plug through ACPI (on, QEMU 7.2's default: the guest's
 *                         acpiphp) or natively (off: their slots' registers, the guest's pciehp)
 */
public record MachineConfig(
    Accel accel,
    long memoryBytes,
    int cpus,
    Path kernel,
    Path initrd,
    String append,
    boolean decompressOnHost,
    SerialConfig serial,
    boolean noReboot,
    boolean noShutdown,
    List<DebugExitConfig> debugExits,
    List<DriveConfig> drives,
    List<VirtioDeviceConfig> virtioDevices,
    Set<String> traces,
    Set<String> debugLog,
    MachineType machineType,
    List<ChardevConfig> chardevs,
    List<NetdevConfig> netdevs,
    JitOptions jit,
    String name,
    MemoryBackendConfig memoryBackend, Firmware firmware, Map<Integer, Integer> pciSlots,
    IommuConfig iommu, Map<Integer, PciDmaConfig> pciDma, List<IdeDriveConfig> ideDrives,
    List<IoThreadConfig> ioThreads, List<AhciConfig> ahciControllers, CpuConfig cpu, java.util.UUID uuid,
    List<PcieRootPortConfig> pcieRootPorts, Map<Integer, String> pciBuses, Map<Integer, String> deviceIds, boolean memMerge,
    boolean rngSeed, boolean acpiPcieHotplug) {

    public MachineConfig {
        deviceIds = deviceIds == null ? Map.of() : Map.copyOf(deviceIds);
        pcieRootPorts = pcieRootPorts == null ? List.of() : List.copyOf(pcieRootPorts);
        pciBuses = pciBuses == null ? Map.of() : Map.copyOf(pciBuses);
        cpu = cpu == null ? CpuConfig.DEFAULT : cpu;
        ahciControllers = ahciControllers == null ? List.of() : List.copyOf(ahciControllers);
        ioThreads = ioThreads == null ? List.of() : List.copyOf(ioThreads);
        pciSlots = pciSlots == null ? Map.of() : Map.copyOf(pciSlots);
        pciDma = pciDma == null ? Map.of() : Map.copyOf(pciDma);
        ideDrives = ideDrives == null ? List.of() : List.copyOf(ideDrives);
    }

    /**
     * -device intel-iommu[,intremap=on|off|auto][,caching-mode=on|off][,device-iotlb=on|off][,aw-bits=39|48]:
     * an emulated VT-d unit at 0xFED90000 in legacy mode, as QEMU 7.2's. {@code intremap} null is
     * QEMU's auto: on where the interrupt controllers are emulated (tcg), off with an in-kernel
     * irqchip (kvm). {@code eim} remaps to x2APIC destinations and gives the vCPUs x2APIC.
     */
    public record IommuConfig(Boolean intremap, boolean cachingMode, boolean deviceIotlb, int awBits, boolean eim) {
    }

    /**
     * virtio-pci's DMA properties: {@code iommuPlatform} offers VIRTIO_F_ACCESS_PLATFORM and puts the
     * device's DMA behind the IOMMU; {@code ats} gives it the PCIe ATS capability.
     */
    public record PciDmaConfig(boolean iommuPlatform, boolean ats) {
    }

    /**
     * -device pcie-root-port,id=ID,addr=SLOT[.FUNCTION],port=N,slot=N,multifunction=on|off,hotplug=on|off:
     * a PCI Express root port at {@code slot}.{@code function} of the root bus ({@code slot} null:
     * the first free slot), whose secondary bus is called {@code id} (null: nothing can be put
     * behind it), with native hot-plug on its slot unless {@code hotplug} is off.
     */
    public record PcieRootPortConfig(String id, Integer slot, int function, int port, int physicalSlot,
                                     boolean multifunction, boolean hotplug) {
        /** A port with hot-plug, QEMU's default. */
        public PcieRootPortConfig(String id, Integer slot, int function, int port, int physicalSlot, boolean multifunction) {
            this(id, slot, function, port, physicalSlot, multifunction, true);
        }
    }

    /** The id= of virtio device {@code index} (QOM's /machine/peripheral/ID, device_del's handle), or null. */
    public String deviceId(int index) {
        return deviceIds.get(index);
    }

    /** The DMA options of the virtio device at {@code index} (both off unless given). */
    public PciDmaConfig pciDma(int index) {
        return pciDma.getOrDefault(index, new PciDmaConfig(false, false));
    }

    /** This configuration with guest RAM from {@code backend} (-machine memory-backend=). */
    public MachineConfig withMemoryBackend(MemoryBackendConfig backend) {
        return new MachineConfig(accel, memoryBytes, cpus, kernel, initrd, append, decompressOnHost, serial, noReboot,
            noShutdown, debugExits, drives, virtioDevices, traces, debugLog, machineType, chardevs, netdevs, jit, name,
            backend, firmware, pciSlots, iommu, pciDma, ideDrives, ioThreads, ahciControllers, cpu, uuid, pcieRootPorts, pciBuses,
            deviceIds, memMerge, rngSeed, acpiPcieHotplug);
    }

    /**
     * -cpu MODEL[,FEATURE...]: the vCPU model and the changes to it, in QEMU's terms (what
     * org.jvisor.cpu.GuestCpuid applies to the engine's CPUID). {@code model} is qemu64 (the
     * default), max, host (kvm only) or base; {@code settings} are the items after it in the order
     * given: CPUID flags by QEMU's names ("sse4.2", "x2apic", "hypervisor") and the properties
     * enforce, check, migratable, kvm, pmu and l3-cache. Which value counts is QEMU's rule (see
     * {@link #setting}).
     */
    public record CpuConfig(String model, List<Setting> settings) {
        public static final CpuConfig DEFAULT = new CpuConfig("qemu64", List.of());

        /**
         * One item of the list: {@code +name} or {@code -name} ({@code plusMinus}, QEMU's legacy
         * syntax) or {@code name=on|off}.
         */
        public record Setting(String name, boolean on, boolean plusMinus) {
            public Setting {
                Objects.requireNonNull(name, "name");
            }

            /** As QEMU's syntax: "+name", "-name", "name=on", "name=off". */
            @Override
            public String toString() {
                return plusMinus ? (on ? "+" : "-") + name : name + "=" + (on ? "on" : "off");
            }
        }

        public CpuConfig {
            Objects.requireNonNull(model, "model");
            settings = List.copyOf(settings);
        }

        /** {@code model} with x2APIC on or off ({@code x2apic} null: the model's choice). */
        public CpuConfig(String model, Boolean x2apic) {
            this(model, x2apic == null ? List.of() : List.of(new Setting("x2apic", x2apic, false)));
        }

        /**
         * The value {@code name} ends with, null when it is not set. QEMU's rule
         * (target/i386/cpu.c, x86_cpu_parse_featurestr and x86_cpu_expand_features): the
         * {@code name=} items are applied in order, so the last one counts; then every
         * {@code +name}, then every {@code -name}, whatever their places: "-f" beats "+f", and
         * both beat "f=". (QEMU 7.2 checked: "popcnt=off,+popcnt" has popcnt, "-popcnt,+popcnt"
         * does not.)
         */
        public Boolean setting(String name) {
            Boolean value = null;
            boolean plus = false;
            boolean minus = false;
            for (Setting s : settings) {
                if (!s.name().equals(name)) {
                    continue;
                }
                if (!s.plusMinus()) {
                    value = s.on();
                } else if (s.on()) {
                    plus = true;
                } else {
                    minus = true;
                }
            }
            return minus ? Boolean.FALSE : plus ? Boolean.TRUE : value;
        }

        /**
         * The names given as {@code name=} after a {@code +name} or {@code -name}: QEMU warns
         * "Ambiguous CPU model string" for each (and the +/- one still wins).
         */
        public List<String> ambiguous() {
            List<String> out = new ArrayList<>();
            Set<String> plusMinus = new LinkedHashSet<>();
            for (Setting s : settings) {
                if (s.plusMinus()) {
                    plusMinus.add(s.name());
                } else if (plusMinus.contains(s.name()) && !out.contains(s.name())) {
                    out.add(s.name());
                }
            }
            return List.copyOf(out);
        }

        /** x2apic's value, null when not set (the model's choice). */
        public Boolean x2apic() {
            return setting("x2apic");
        }

        /** Whether tcg's vCPUs offer x2APIC mode: max has it, qemu64 and base do not (as QEMU 7.2's tcg models). */
        public boolean x2apicOnTcg() {
            Boolean x2apic = x2apic();
            return x2apic != null ? x2apic : model.equals("max");
        }

        /** enforce: a flag asked for that the engine cannot offer is an error, not a warning. */
        public boolean enforce() {
            return Boolean.TRUE.equals(setting("enforce"));
        }

        /** check (QEMU's default on): warn about each flag asked for that the engine cannot offer. */
        public boolean check() {
            return !Boolean.FALSE.equals(setting("check"));
        }

        /** kvm (default on): the KVM signature leaves 0x40000000/0x40000001; off hides them. */
        public boolean kvmSignature() {
            return !Boolean.FALSE.equals(setting("kvm"));
        }

        /** pmu (jvisor's default on: the engine's performance monitoring leaf 0Ah as it offers it); off hides it. */
        public boolean pmu() {
            return !Boolean.FALSE.equals(setting("pmu"));
        }

        /** l3-cache (default on): the engine's level-3 cache descriptions; off hides them. */
        public boolean l3Cache() {
            return !Boolean.FALSE.equals(setting("l3-cache"));
        }

        /** migratable (default on, max and host only): leave out the flags a migration cannot carry (invtsc). */
        public boolean migratable() {
            return !Boolean.FALSE.equals(setting("migratable"));
        }

        /** As QEMU's -cpu argument: "qemu64,-popcnt,enforce=on". */
        public String spec() {
            StringBuilder sb = new StringBuilder(model);
            settings.forEach(s -> sb.append(',').append(s));
            return sb.toString();
        }
    }

    /**
     * -device ahci[,id=ID][,addr=SLOT] (QEMU's ich9-ahci, on any PC machine): an AHCI controller
     * with its drives (-device ide-hd|ide-cd,bus=ID.PORT; each {@link IdeDriveConfig#index} is
     * its port 0-5), at PCI slot {@code slot} or the first free one (null).
     */
    public record AhciConfig(String id, Integer slot, List<IdeDriveConfig> drives) {
        public AhciConfig {
            drives = List.copyOf(drives);
        }
    }

    /**
     * -object iothread,id=ID[,poll-max-ns=N][,poll-grow=G][,poll-shrink=S]: a thread serving the
     * queues of the devices that name it, polling them for up to {@code pollMaxNs} (0: never) with
     * QEMU's adaptive window (grow/shrink 0: QEMU's defaults, times 2 and back to 0).
     */
    public record IoThreadConfig(String id, long pollMaxNs, long pollGrow, long pollShrink) {
        /** QEMU's default poll-max-ns on Linux. */
        public static final long DEFAULT_POLL_MAX_NS = 32768;

        public IoThreadConfig {
            Objects.requireNonNull(id, "id");
            if (pollMaxNs < 0 || pollGrow < 0 || pollShrink < 0) {
                throw new IllegalArgumentException("iothread " + id + ": poll-max-ns, poll-grow and poll-shrink must not be negative");
            }
        }
    }

    /** The -object iothread with {@code id}, or null. */
    public IoThreadConfig ioThread(String id) {
        return ioThreads.stream().filter(t -> t.id().equals(id)).findFirst().orElse(null);
    }

    /**
     * A drive on the machine's IDE controller (QEMU's if=ide), a disk or a CD-ROM: -drive id
     * {@code driveId} at {@code index}. On pc, 0-3 on the PIIX3 (channel index / 2, unit index % 2:
     * -hda is 0, -cdrom 2); on q35, 0-5 on the ICH9 AHCI (port = index, QEMU's bus ide.N).
     */
    public record IdeDriveConfig(String driveId, int index, Media media) {
        /** The last index on pc's PIIX3 (two channels of two units). */
        public static final int MAX_INDEX = 3;
        /** The last index on q35's AHCI (six ports of one device). */
        public static final int MAX_AHCI_INDEX = 5;

        /** QEMU's media=disk|cdrom. */
        public enum Media { DISK, CDROM }

        public IdeDriveConfig {
            Objects.requireNonNull(driveId, "driveId");
            Objects.requireNonNull(media, "media");
            if (index < 0 || index > MAX_AHCI_INDEX) {
                throw new IllegalArgumentException("IDE index " + index + " is out of range (0-5)");
            }
        }

        public int channel() {
            return index / 2;
        }

        public int unit() {
            return index % 2;
        }
    }

    /**
     * -object memory-backend-memfd|memory-backend-file,id=ID,size=SIZE,...: guest RAM that other
     * processes can map (vhost-user backends), chosen by -machine memory-backend=ID.
     */
    public sealed interface MemoryBackendConfig {
        String id();

        long size();

        /** Whether the mapping is MAP_SHARED (share=on). */
        boolean share();

        /** The -object type name. */
        String qemuType();

        /** memory-backend-memfd,id=,size=[,share=on|off][,seal=on|off]; share and seal default to on, as QEMU's. */
        record Memfd(String id, long size, boolean share, boolean seal) implements MemoryBackendConfig {
            @Override
            public String qemuType() {
                return "memory-backend-memfd";
            }
        }

        /** memory-backend-file,id=,size=,mem-path=PATH[,share=on|off]; share defaults to off, as QEMU's. */
        record File(String id, long size, Path memPath, boolean share) implements MemoryBackendConfig {
            @Override
            public String qemuType() {
                return "memory-backend-file";
            }
        }
    }

    /**
     * The firmware of a machine without -kernel (ignored with one).
     *
     * @param bios        -bios FILE, or null for SeaBIOS from Debian's seabios package
     * @param bootOrder   -boot order=: drive letters (c disk, d CD-ROM, n network) in the order to
     *                    try them, or null for the firmware's own order
     * @param bootMenu    -boot menu=on: the firmware offers its boot menu
     * @param splashTime  -boot splash-time=: how long the menu prompt waits, in ms
     * @param rebootTimeout -boot reboot-timeout=: ms to wait before rebooting when nothing boots, -1 never
     */
    public record Firmware(Path bios, String bootOrder, boolean bootMenu, int splashTime, int rebootTimeout) {
        /** SeaBIOS's default order and menu, as QEMU without -bios or -boot. */
        public static final Firmware DEFAULT = new Firmware(null, null, false, 2500, -1);
    }

    /** Whether the machine boots firmware (no -kernel). */
    public boolean bootsFirmware() {
        return kernel == null;
    }

    /** The CPU engine: kvm (/dev/kvm), tcg (software), or auto (kvm on bare metal, tcg otherwise). */
    public enum Accel {
        /** Hardware virtualization through /dev/kvm. */
        KVM,
        /** jvisor's software x86-64 CPU. */
        TCG,
        /** kvm on bare metal, tcg on a host that is itself a virtual machine or has no /dev/kvm. */
        AUTO
    }

    /**
     * -machine TYPE. {@code PC}: the PC with a PCI host (virtio on PCI). {@code MICROVM}: QEMU's
     * microvm idea, a PC without PCI whose virtio devices sit on virtio-mmio transports that the
     * DSDT announces; faster to probe, nothing to enumerate.
     */
    public enum MachineType {
        /** The PC with a PCI host. */
        PC("pc"),
        /**
         * The PC as QEMU's q35 names it: the same platform with the Q35 host bridge's identity
         * (8086:29c0) at 00.0, and the only machine that takes -device intel-iommu.
         */
        Q35("q35"),
        /** A PC without PCI; virtio on virtio-mmio. */
        MICROVM("microvm"),
        /**
         * QEMU's "none": no guest, no vCPUs, nothing to boot; only the monitors (management tools
         * such as libvirt start it to ask what the emulator can do).
         */
        NONE("none");

        private final String qemuName;

        MachineType(String qemuName) {
            this.qemuName = qemuName;
        }

        /** The -machine name: "pc", "q35", "microvm" or "none". */
        public String qemuName() {
            return qemuName;
        }

        /** Whether the machine has a PCI bus (pc, q35). */
        public boolean hasPci() {
            return this == PC || this == Q35;
        }
    }

    /** How a virtio device reaches the guest: a PCI function (pc) or a virtio-mmio window (microvm). */
    public enum Transport {
        /** A PCI function: virtio-X-pci. */
        PCI("pci"),
        /** A virtio-mmio window: virtio-X-device. */
        MMIO("device");

        private final String suffix;

        Transport(String suffix) {
            this.suffix = suffix;
        }

        /** The QEMU device name of {@code model} on this transport: virtio-blk-pci, virtio-blk-device. */
        public String deviceName(String model) {
            return model + "-" + suffix;
        }

        /** The transport a QEMU device name ends in (virtio-X-pci, virtio-X-device), or null. */
        public static Transport ofDeviceName(String name) {
            for (Transport t : values()) {
                if (name != null && name.startsWith("virtio-") && name.endsWith("-" + t.suffix)) {
                    return t;
                }
            }
            return null;
        }
    }

    /** Where COM1's bytes go. */
    public sealed interface SerialConfig {
        /** The host's stdin and stdout, with QEMU's Ctrl-A escapes (Ctrl-A x ends the machine). */
        record Stdio() implements SerialConfig {
        }

        /** Output to a file (created or truncated); no input. */
        record File(Path path) implements SerialConfig {
        }

        /** No serial port backend: output is dropped, there is no input. */
        record None() implements SerialConfig {
        }

        /**
         * A program's own streams (embedding): guest output goes to {@code output}, flushed at
         * each newline; {@code input}, if not null, is read on a thread of its own and typed
         * into the guest. jvisor never closes either stream.
         */
        record Streams(OutputStream output, InputStream input) implements SerialConfig {
            /**
             * Guest output to {@code output}, guest input from {@code input} (or none if null).
             *
             * @throws NullPointerException if {@code output} is null
             */
            public Streams {
                Objects.requireNonNull(output, "output");
            }
        }

        /** -serial chardev:ID: the -chardev with that id. */
        record Chardev(String id) implements SerialConfig {
        }

        /**
         * -serial mon:stdio (the -nographic default): stdio shared with the human monitor, Ctrl-A c
         * switching between the two, as QEMU's mux chardev.
         */
        record MonStdio() implements SerialConfig {
        }
    }

    /**
     * -drive file=F[,format=raw|qcow2],if=virtio|none[,id=D][,readonly=on][,cache=none|writeback][,snapshot=on]:
     * a disk image. {@code format} is null when the image is to be probed (as QEMU does without
     * format=); {@code cache} is "writeback" (the host page cache) or "none" (O_DIRECT);
     * {@code ifVirtio} records if=virtio (the command line then adds its virtio-blk device);
     * {@code snapshot} sends writes to a temporary overlay (-snapshot); {@code discard} is
     * "ignore" (QEMU's default: the guest's discards complete and change nothing) or "unmap" (they
     * give the space back).
     */
    public record DriveConfig(String id, Path file, String format, boolean readOnly, String cache, boolean ifVirtio,
                              boolean snapshot, String discard) {
        public DriveConfig {
            if (!discard.equals("ignore") && !discard.equals("unmap")) {
                throw new IllegalArgumentException("discard=" + discard + " (ignore or unmap)");
            }
        }

        /** With QEMU's default discard=ignore. */
        public DriveConfig(String id, Path file, String format, boolean readOnly, String cache, boolean ifVirtio,
                           boolean snapshot) {
            this(id, file, format, readOnly, cache, ifVirtio, snapshot, "ignore");
        }

        /** A raw image (format=raw), written in place. */
        public DriveConfig(String id, Path file, boolean readOnly, String cache, boolean ifVirtio) {
            this(id, file, "raw", readOnly, cache, ifVirtio, false);
        }

        public DriveConfig withSnapshot(boolean on) {
            return new DriveConfig(id, file, format, readOnly, cache, ifVirtio, on, discard);
        }

        public DriveConfig withDiscard(String mode) {
            return new DriveConfig(id, file, format, readOnly, cache, ifVirtio, snapshot, mode);
        }
    }

    /**
     * virtio devices from -device virtio-X-pci / virtio-X-device (and -drive if=virtio, which
     * implies a virtio-blk on the machine's transport).
     */
    /** Where a virtio-rng takes its bytes: QEMU's rng backend objects. */
    public sealed interface RngBackend {
        /** -object rng-builtin (and a virtio-rng without rng=): the host's own generator. */
        record Builtin() implements RngBackend {
        }

        /** -object rng-random,filename=F: the bytes {@code file} gives (QEMU's default /dev/urandom). */
        record RandomFile(String file) implements RngBackend {
            public static final String DEFAULT_FILE = "/dev/urandom";

            public RandomFile {
                Objects.requireNonNull(file, "file");
            }
        }
    }

    public sealed interface VirtioDeviceConfig {
        /** The bus the device sits on. */
        Transport transport();

        /** The device's name without the transport: virtio-blk for virtio-blk-pci. */
        String model();

        /** The -device name: virtio-blk-pci, virtio-rng-device... */
        default String qemuName() {
            return transport().deviceName(model());
        }

        /** ioeventfd=on|off (QEMU's property): queue notifications through engine doorbells where the engine has them. */
        default boolean ioeventfd() {
            return true;
        }

        /**
         * x-irqfd=on|off (jvisor's, for vhost-user devices): on kvm the backend's call eventfds
         * raise the MSI-X interrupts in the kernel (on, the default) or go through jvisor (off,
         * for comparison).
         */
        default boolean irqfd() {
            return true;
        }

        /**
         * -device virtio-rng-pci|virtio-rng-device[,rng=ID][,max-bytes=N][,period=MS][,ioeventfd=on|off]:
         * its bytes from {@code backend} (the -object rng-* rng= names; without rng=, the host's
         * generator, as QEMU's default rng-builtin), at most {@code maxBytes} per
         * {@code periodMillis} (QEMU's defaults: unlimited, 2^16 ms).
         */
        record VirtioRng(Transport transport, boolean ioeventfd, RngBackend backend, long maxBytes, long periodMillis)
            implements VirtioDeviceConfig {
            /** QEMU's max-bytes default: INT64_MAX, no limit. */
            public static final long UNLIMITED = Long.MAX_VALUE;
            public static final long DEFAULT_PERIOD_MILLIS = 1 << 16;

            public VirtioRng {
                Objects.requireNonNull(backend, "backend");
                if (maxBytes < 0 || periodMillis <= 0) {
                    throw new IllegalArgumentException("virtio-rng: max-bytes " + maxBytes + " per " + periodMillis + " ms");
                }
            }

            /** A virtio-rng with ioeventfd=on (the default) on the host's generator, unlimited. */
            public VirtioRng(Transport transport) {
                this(transport, true, new RngBackend.Builtin(), UNLIMITED, DEFAULT_PERIOD_MILLIS);
            }

            @Override
            public String model() {
                return "virtio-rng";
            }
        }

        /**
         * -device virtio-balloon-pci|virtio-balloon-device[,deflate-on-oom=on|off]: the memory
         * balloon QMP's balloon and query-balloon drive (libvirt's default {@code <memballoon>}).
         */
        record VirtioBalloon(Transport transport, boolean deflateOnOom) implements VirtioDeviceConfig {
            @Override
            public String model() {
                return "virtio-balloon";
            }
        }

        /**
         * -device virtio-blk-pci|virtio-blk-device,drive=ID[,iothread=IOTHREAD][,ioeventfd=on|off]: a disk on
         * the -drive with that id, its queue served by the -object iothread IOTHREAD (null: a thread of
         * its own); with ioeventfd=off a notification is an MMIO exit served on the vCPU thread.
         */
        record VirtioBlk(String driveId, Transport transport, String iothread, boolean ioeventfd) implements VirtioDeviceConfig {
            public VirtioBlk(String driveId, Transport transport) {
                this(driveId, transport, null);
            }

            /** With ioeventfd=on (the default). */
            public VirtioBlk(String driveId, Transport transport, String iothread) {
                this(driveId, transport, iothread, true);
            }

            @Override
            public String model() {
                return "virtio-blk";
            }
        }

        /** -device virtio-serial-pci|virtio-serial-device[,max_ports=N] with its virtconsole/virtserialport ports. */
        record VirtioSerial(int maxPorts, List<VirtioSerialPortConfig> ports, Transport transport) implements VirtioDeviceConfig {
            @Override
            public String model() {
                return "virtio-serial";
            }
        }

        /**
         * -device vhost-user-blk-pci|vhost-user-blk-device,chardev=ID[,num-queues=N][,queue-size=N][,config-wce=on|off]
         * [,x-irqfd=on|off]: a disk served by another process (a vhost-user backend such as
         * qemu-storage-daemon) over the socket chardev ID. {@code numQueues} 0 means one per vCPU (QEMU's default).
         */
        record VhostUserBlk(String chardev, int numQueues, int queueSize, boolean configWce, Transport transport, boolean irqfd)
                implements VirtioDeviceConfig {
            /** With x-irqfd=on (the default). */
            public VhostUserBlk(String chardev, int numQueues, int queueSize, boolean configWce, Transport transport) {
                this(chardev, numQueues, queueSize, configWce, transport, true);
            }

            @Override
            public String model() {
                return "vhost-user-blk";
            }

            @Override
            public String qemuName() {
                return transport().deviceName("vhost-user-blk");
            }
        }

        /**
         * -device vhost-user-fs-pci|vhost-user-fs-device,chardev=ID,tag=TAG[,num-request-queues=N][,queue-size=N]
         * [,x-irqfd=on|off]: a host directory shared by a virtio-fs backend (virtiofsd) over the
         * socket chardev ID; the guest mounts it with {@code mount -t virtiofs TAG DIR}.
         */
        record VhostUserFs(String chardev, String tag, int numRequestQueues, int queueSize, Transport transport, boolean irqfd)
                implements VirtioDeviceConfig {
            /** With x-irqfd=on (the default). */
            public VhostUserFs(String chardev, String tag, int numRequestQueues, int queueSize, Transport transport) {
                this(chardev, tag, numRequestQueues, queueSize, transport, true);
            }

            @Override
            public String model() {
                return "vhost-user-fs";
            }

            @Override
            public String qemuName() {
                return transport().deviceName("vhost-user-fs");
            }
        }

        /** -device virtio-net-pci|virtio-net-device,netdev=ID[,mac=...]; {@code mac} is null for the default. */
        record VirtioNet(String netdevId, MacAddress mac, Transport transport) implements VirtioDeviceConfig {
            @Override
            public String model() {
                return "virtio-net";
            }
        }
    }

    /** -device virtconsole|virtserialport,chardev=ID[,name=N][,nr=K]: port {@code nr} of a virtio-serial. */
    public record VirtioSerialPortConfig(int nr, boolean console, String chardev, String name) {
    }

    /** -chardev BACKEND,id=ID,...: a character device for a virtio-serial port or -serial chardev:ID. */
    public sealed interface ChardevConfig {
        /** The id devices name it by. */
        String id();

        /** The host's stdin and stdout, with QEMU's Ctrl-A escapes. */
        record Stdio(String id) implements ChardevConfig {
        }

        /** Output to a file, appended to or truncated. */
        record File(String id, Path path, boolean append) implements ChardevConfig {
        }

        /** A Unix socket server (server=on); {@code waitForClient} is QEMU's wait=on. */
        record Socket(String id, Path path, boolean waitForClient) implements ChardevConfig {
        }

        /** Nothing: output dropped, no input. */
        record Null(String id) implements ChardevConfig {
        }

        /**
         * A Unix socket client (server=off): jvisor connects to {@code path}; with
         * {@code reconnectSeconds} > 0 (QEMU's reconnect=N) it connects again that often after the
         * peer went away. Only vhost-user devices use these.
         */
        record SocketClient(String id, Path path, int reconnectSeconds) implements ChardevConfig {
        }

        /** A new pseudo-terminal, its slave /dev/pts/N named by query-chardev ("pty:/dev/pts/N"). */
        record Pty(String id) implements ChardevConfig {
        }
    }

    /** A -netdev: the host side of a NIC, named by its id. */
    public sealed interface NetdevConfig {
        String id();

        /** -netdev tap,id=ID[,ifname=NAME]: a TAP device ({@code ifname} null lets the kernel name it). */
        record Tap(String id, String ifname) implements NetdevConfig {
        }

        /**
         * -netdev tap,id=ID,fd=N (or netdev_add's fd=NAME of a getfd descriptor, resolved to its
         * number): descriptor {@code fd} of this process, /dev/net/tun already attached to a tap
         * by whoever passed it (libvirt), which the backend takes over and closes. {@code vhost}:
         * vhost-net was asked for (vhost=on or a vhostfd=), which jvisor does not have; QEMU 7.2
         * then warns and serves the tap itself unless vhostforce=on. {@code vhostFd}: the passed
         * /dev/vhost-net descriptor (closed unused), or -1.
         */
        record TapFd(String id, int fd, boolean vhost, int vhostFd) implements NetdevConfig {
        }

        /**
         * -netdev stream,id=ID,server=on|off,addr.type=...: Ethernet frames over a stream socket,
         * each after its length (QEMU 7.2's net/stream.c); {@code server} listens for one peer at a
         * time, otherwise jvisor connects.
         */
        record Stream(String id, boolean server, StreamAddress address) implements NetdevConfig {
        }

        /**
         * -netdev user,id=ID[,ipv4=on|off][,ipv6=on|off][,hostfwd=...]: user-mode networking by a
         * passt process jvisor runs (at least one of the protocols on).
         */
        record User(String id, List<HostForward> hostForwards, boolean ipv4, boolean ipv6) implements NetdevConfig {
            public User(String id, List<HostForward> hostForwards) {
                this(id, hostForwards, true, true);
            }
        }
    }

    /** Where a -netdev stream listens or connects (QEMU's SocketAddress: addr.type=unix|inet|fd). */
    public sealed interface StreamAddress {
        /** addr.type=unix,addr.path=PATH */
        record Unix(Path path) implements StreamAddress {
        }

        /** addr.type=inet,addr.host=HOST,addr.port=PORT */
        record Inet(String host, int port) implements StreamAddress {
        }

        /** addr.type=fd,addr.str=N: a socket jvisor inherited (listening with server=on, connected otherwise). */
        record Fd(int fd) implements StreamAddress {
        }
    }

    /**
     * hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-:GUESTPORT of -netdev user: connections (or datagrams)
     * to the host's port reach the guest's; {@code hostAddress} null means every host address.
     */
    public record HostForward(boolean udp, String hostAddress, int hostPort, int guestPort) {
    }

    /** -device isa-debug-exit,iobase=...,iosize=... */
    public record DebugExitConfig(int iobase, int iosize) {
    }

    /** Whether -trace exits was given: VM exit statistics are printed at the end. */
    public boolean traceExits() {
        return traces.contains("exits");
    }

    /** Whether -trace migration was given: each migration's phases and their times are printed as it ends. */
    public boolean traceMigration() {
        return traces.contains("migration");
    }

    /** Whether the host's stdin/stdout is a guest console (the terminal goes to raw mode). */
    public boolean usesStdio() {
        return serial instanceof SerialConfig.Stdio || serial instanceof SerialConfig.MonStdio || chardevs.stream().anyMatch(c -> c instanceof ChardevConfig.Stdio);
    }

    /** Whether -d guest_errors was given. */
    public boolean guestErrors() {
        return debugLog.contains("guest_errors");
    }

    /** A builder with the command line's defaults, except that the serial port has no backend. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Builds a {@link MachineConfig} step by step. Defaults: -accel auto, 128 MiB, one vCPU, the
     * pc machine, the kernel decompressed on the host, no serial backend, no devices.
     */
    public static final class Builder {
        private Accel accel = Accel.AUTO;
        private long memoryBytes = 128L << 20;
        private int cpus = 1;
        private Path kernel;
        private Path initrd;
        private String append;
        private boolean decompressOnHost = true;
        private final Map<Integer, Integer> pciSlots = new java.util.HashMap<>();
        private SerialConfig serial = new SerialConfig.None();
        private boolean noReboot;
        private boolean noShutdown;
        private final List<DebugExitConfig> debugExits = new ArrayList<>();
        private final List<DriveConfig> drives = new ArrayList<>();
        private final List<VirtioDeviceConfig> virtioDevices = new ArrayList<>();
        private final Set<String> traces = new LinkedHashSet<>();
        private final Set<String> debugLog = new LinkedHashSet<>();
        private MachineType machineType = MachineType.PC;
        private final List<ChardevConfig> chardevs = new ArrayList<>();
        private final List<NetdevConfig> netdevs = new ArrayList<>();
        private JitOptions jit = JitOptions.fromSystemProperties();
        private String name;
        private MemoryBackendConfig memoryBackend;
        private boolean memMerge = true;
        private boolean rngSeed = true;
        private boolean acpiPcieHotplug = true;
        private CpuConfig cpu;
        private java.util.UUID uuid;
        private Firmware firmware = Firmware.DEFAULT;
        private IommuConfig iommu;
        private final Map<Integer, PciDmaConfig> pciDma = new java.util.HashMap<>();
        private final List<IdeDriveConfig> ideDrives = new ArrayList<>();
        private final List<IoThreadConfig> ioThreads = new ArrayList<>();

        private Builder() {
        }

        /** -accel. */
        public Builder accel(Accel accel) {
            this.accel = Objects.requireNonNull(accel, "accel");
            return this;
        }

        /** -m, in bytes. */
        public Builder memory(long bytes) {
            this.memoryBytes = bytes;
            return this;
        }

        /** -smp. */
        public Builder cpus(int cpus) {
            this.cpus = cpus;
            return this;
        }

        /** -bios and -boot: the firmware booted when no kernel is given. */
        public Builder firmware(Firmware firmware) {
            this.firmware = Objects.requireNonNull(firmware, "firmware");
            return this;
        }

        /** -kernel (without it, the machine boots its firmware). */
        public Builder kernel(Path kernel) {
            this.kernel = kernel;
            return this;
        }

        /** -initrd. */
        public Builder initrd(Path initrd) {
            this.initrd = initrd;
            return this;
        }

        /** -append. */
        public Builder append(String commandLine) {
            this.append = commandLine;
            return this;
        }

        /** -machine TYPE. */
        public Builder machineType(MachineType type) {
            this.machineType = Objects.requireNonNull(type, "machineType");
            return this;
        }

        /** -machine kernel-decompress=host (true, the default) or guest (false). */
        public Builder decompressOnHost(boolean onHost) {
            this.decompressOnHost = onHost;
            return this;
        }

        /** -serial. */
        public Builder serial(SerialConfig serial) {
            this.serial = Objects.requireNonNull(serial, "serial");
            return this;
        }

        /** -no-reboot. */
        public Builder noReboot(boolean noReboot) {
            this.noReboot = noReboot;
            return this;
        }

        /** -no-shutdown. */
        public Builder noShutdown(boolean noShutdown) {
            this.noShutdown = noShutdown;
            return this;
        }

        /** -drive; attach it with a {@link VirtioDeviceConfig.VirtioBlk} naming its id. */
        public Builder drive(DriveConfig drive) {
            drives.add(Objects.requireNonNull(drive, "drive"));
            return this;
        }

        /** -drive if=ide (or -hda, -cdrom): the IDE drive on the {@link #drive} with its id. */
        public Builder ideDrive(IdeDriveConfig drive) {
            ideDrives.add(Objects.requireNonNull(drive, "drive"));
            return this;
        }

        /** -object iothread. */
        public Builder ioThread(IoThreadConfig thread) {
            ioThreads.add(Objects.requireNonNull(thread, "thread"));
            return this;
        }

        /** -device virtio-*, after the ones added before (bus order). */
        public Builder device(VirtioDeviceConfig device) {
            virtioDevices.add(Objects.requireNonNull(device, "device"));
            return this;
        }

        /** -device isa-debug-exit. */
        public Builder debugExit(DebugExitConfig debugExit) {
            debugExits.add(Objects.requireNonNull(debugExit, "debugExit"));
            return this;
        }

        /** -chardev. */
        public Builder chardev(ChardevConfig chardev) {
            chardevs.add(Objects.requireNonNull(chardev, "chardev"));
            return this;
        }

        /** -netdev. */
        public Builder netdev(NetdevConfig netdev) {
            netdevs.add(Objects.requireNonNull(netdev, "netdev"));
            return this;
        }

        /** -trace EVENT. */
        public Builder trace(String event) {
            traces.add(Objects.requireNonNull(event, "event"));
            return this;
        }

        /** -d ITEM. */
        public Builder debugLog(String item) {
            debugLog.add(Objects.requireNonNull(item, "item"));
            return this;
        }

        /**
         * The configuration. Only the shape is checked here (a kernel is given, the vCPU count and
         * memory size are in range); files, devices and their references are checked when the
         * machine is built, with errors that name the option.
         *
         * @throws IllegalArgumentException if the vCPU count or memory size is out of range
         */
        /** -accel tcg,jit=on|off,jit-threshold=N: the tcg engine's translator (ignored on kvm). */
        public Builder jit(JitOptions jit) {
            this.jit = Objects.requireNonNull(jit, "jit");
            return this;
        }

        /** -device virtio-X-pci,addr=SLOT: the virtio device at {@code deviceIndex} goes to PCI slot {@code slot}. */
        public Builder pciSlot(int deviceIndex, int slot) {
            pciSlots.put(deviceIndex, slot);
            return this;
        }

        /** -device intel-iommu (null: none). */
        public Builder iommu(IommuConfig iommu) {
            this.iommu = iommu;
            return this;
        }

        /** -device virtio-X-pci,iommu_platform=,ats=: the DMA options of the virtio device at {@code deviceIndex}. */
        public Builder pciDma(int deviceIndex, PciDmaConfig options) {
            pciDma.put(deviceIndex, Objects.requireNonNull(options, "options"));
            return this;
        }

        /** -uuid: the system UUID (SMBIOS type 1); null for none. */
        public Builder uuid(java.util.UUID uuid) {
            this.uuid = uuid;
            return this;
        }

        /** -cpu (default qemu64 without x2APIC on tcg). */
        public Builder cpu(CpuConfig cpu) {
            this.cpu = cpu;
            return this;
        }

        /** -name: the guest's name, as management tools show it (null: none). */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** -machine memory-backend=ID with its -object (null: anonymous RAM); its size must equal {@link #memory}. */
        public Builder memoryBackend(MemoryBackendConfig backend) {
            this.memoryBackend = backend;
            return this;
        }

        /** -machine mem-merge=on|off: whether the host's KSM may merge guest RAM with identical pages (default on). */
        public Builder memMerge(boolean on) {
            this.memMerge = on;
            return this;
        }

        /** -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support (q35); default on. */
        public Builder acpiPcieHotplug(boolean on) {
            this.acpiPcieHotplug = on;
            return this;
        }

        /** -machine rng-seed=on|off: whether a Linux kernel gets a seed for its random number generator (default on). */
        public Builder rngSeed(boolean on) {
            this.rngSeed = on;
            return this;
        }

        public MachineConfig build() {
            if (cpus < 1 || cpus > 255) {
                throw new IllegalArgumentException(cpus + " vCPUs is out of range (1-255)");
            }
            if (memoryBytes <= 0 || (memoryBytes & 0xFFF) != 0) {
                throw new IllegalArgumentException("memory size " + memoryBytes + " is not a positive multiple of 4 KiB");
            }
            return new MachineConfig(accel, memoryBytes, cpus, kernel, initrd, append, decompressOnHost, serial,
                noReboot, noShutdown, List.copyOf(debugExits), List.copyOf(drives), List.copyOf(virtioDevices),
                Set.copyOf(traces), Set.copyOf(debugLog), machineType, List.copyOf(chardevs), List.copyOf(netdevs), jit, name,
                memoryBackend, firmware, pciSlots, iommu, pciDma, ideDrives, ioThreads, List.of(), cpu, uuid, List.of(), Map.of(),
                Map.of(), memMerge, rngSeed, acpiPcieHotplug);
        }
    }
}
