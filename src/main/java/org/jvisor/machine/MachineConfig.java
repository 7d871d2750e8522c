package org.jvisor.machine;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.jvisor.backend.net.MacAddress;

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
    List<NetdevConfig> netdevs) {

    public enum Accel { KVM, TCG, AUTO }

    /** Where COM1's bytes go. */
    public sealed interface SerialConfig {
        record Stdio() implements SerialConfig {
        }

        record File(Path path) implements SerialConfig {
        }

        record None() implements SerialConfig {
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

        /** -device virtio-net-pci,netdev=ID[,mac=...]; {@code mac} is null for the default. */
        record VirtioNet(String netdevId, MacAddress mac) implements PciDeviceConfig {
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

    public boolean guestErrors() {
        return debugLog.contains("guest_errors");
    }
}
