package org.jvisor.machine;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.jvisor.backend.net.MacAddress;
import org.jvisor.tcg.JitOptions;

/** Everything needed to build a machine, as parsed from the command line. */
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
    List<DebugExitConfig> debugExits,
    List<DriveConfig> drives,
    List<VirtioDeviceConfig> virtioDevices,
    Set<String> traces,
    Set<String> debugLog,
    MachineType machineType,
    List<ChardevConfig> chardevs,
    List<NetdevConfig> netdevs,
    JitOptions jit) {

    public enum Accel { KVM, TCG, AUTO }

    /**
     * -machine TYPE. {@code PC}: the PC with a PCI host (virtio on PCI). {@code MICROVM}: QEMU's
     * microvm idea, a PC without PCI whose virtio devices sit on virtio-mmio transports that the
     * DSDT announces; faster to probe, nothing to enumerate.
     */
    public enum MachineType {
        PC("pc"), MICROVM("microvm");

        private final String qemuName;

        MachineType(String qemuName) {
            this.qemuName = qemuName;
        }

        public String qemuName() {
            return qemuName;
        }
    }

    /** How a virtio device reaches the guest: a PCI function (pc) or a virtio-mmio window (microvm). */
    public enum Transport {
        PCI("pci"), MMIO("device");

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
        record Stdio() implements SerialConfig {
        }

        record File(Path path) implements SerialConfig {
        }

        record None() implements SerialConfig {
        }

        /** -serial chardev:ID: the -chardev with that id. */
        record Chardev(String id) implements SerialConfig {
        }
    }

    /** -drive file=F,format=raw,if=virtio|none[,id=D][,readonly=on][,cache=none|writeback] */
    public record DriveConfig(String id, Path file, boolean readOnly, String cache, boolean ifVirtio) {
    }

    /**
     * virtio devices from -device virtio-X-pci / virtio-X-device (and -drive if=virtio, which
     * implies a virtio-blk on the machine's transport).
     */
    public sealed interface VirtioDeviceConfig {
        Transport transport();

        /** The device's name without the transport: virtio-blk for virtio-blk-pci. */
        String model();

        default String qemuName() {
            return transport().deviceName(model());
        }

        /** ioeventfd=on|off (QEMU's property): queue notifications through engine doorbells where the engine has them. */
        default boolean ioeventfd() {
            return true;
        }

        /** -device virtio-rng-pci|virtio-rng-device[,ioeventfd=on|off]. */
        record VirtioRng(Transport transport, boolean ioeventfd) implements VirtioDeviceConfig {
            public VirtioRng(Transport transport) {
                this(transport, true);
            }

            @Override
            public String model() {
                return "virtio-rng";
            }
        }

        record VirtioBlk(String driveId, Transport transport) implements VirtioDeviceConfig {
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
        String id();

        record Stdio(String id) implements ChardevConfig {
        }

        record File(String id, Path path, boolean append) implements ChardevConfig {
        }

        /** A Unix socket server (server=on); {@code waitForClient} is QEMU's wait=on. */
        record Socket(String id, Path path, boolean waitForClient) implements ChardevConfig {
        }

        record Null(String id) implements ChardevConfig {
        }
    }

    /** -netdev tap,id=ID[,ifname=NAME]: a TAP device ({@code ifname} null lets the kernel name it). */
    public record NetdevConfig(String id, String ifname) {
    }

    /** -device isa-debug-exit,iobase=...,iosize=... */
    public record DebugExitConfig(int iobase, int iosize) {
    }

    public boolean traceExits() {
        return traces.contains("exits");
    }

    /** Whether the host's stdin/stdout is a guest console (the terminal goes to raw mode). */
    public boolean usesStdio() {
        return serial instanceof SerialConfig.Stdio || chardevs.stream().anyMatch(c -> c instanceof ChardevConfig.Stdio);
    }

    public boolean guestErrors() {
        return debugLog.contains("guest_errors");
    }
}
