package org.jvisor.machine;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

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
    List<PciDeviceConfig> pciDevices,
    Set<String> traces,
    Set<String> debugLog,
    List<ChardevConfig> chardevs) {

    public enum Accel { KVM, TCG, AUTO }

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

    /** PCI functions from -device (and -drive if=virtio, which implies a virtio-blk-pci). */
    public sealed interface PciDeviceConfig {
        record VirtioRng() implements PciDeviceConfig {
        }

        record VirtioBlk(String driveId) implements PciDeviceConfig {
        }

        /** -device virtio-serial-pci[,max_ports=N] with the virtconsole/virtserialport devices on it. */
        record VirtioSerial(int maxPorts, List<VirtioSerialPortConfig> ports) implements PciDeviceConfig {
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
