package org.jvisor.machine;

import java.util.List;

import org.jvisor.devices.state.DeviceState;

/**
 * The first section of a snapshot: what the restoring machine must match (QEMU checks the same
 * through its configuration section and device list), and the run state the machine was in when
 * the save was asked for (QEMU's "globalstate"), which decides whether a restore runs on.
 *
 * @param machineType "pc" or "microvm"
 * @param ramBytes    the RAM size (-m)
 * @param cpus        the vCPU count (-smp)
 * @param accelerator the engine that saved it ("tcg")
 * @param devices     every device id of the machine, in registry order (stateless ones too)
 * @param runState    QEMU's run-state name at the save request: "running" or "paused"
 */
public record SnapshotConfig(String machineType, long ramBytes, int cpus, String accelerator, List<String> devices,
                             String runState) implements DeviceState {
    public static final int VERSION = 1;

    /** The run states a save records (a source stopped for the save, or paused before it). */
    static final List<String> RUN_STATES = List.of("running", "paused");

    public SnapshotConfig {
        java.util.Objects.requireNonNull(machineType, "machine type");
        java.util.Objects.requireNonNull(accelerator, "accelerator");
        devices = List.copyOf(java.util.Objects.requireNonNull(devices, "devices")); // refuses null ids too
        if (ramBytes <= 0 || cpus <= 0) {
            throw new IllegalArgumentException(ramBytes + " bytes of RAM and " + cpus + " vCPUs");
        }
        if (!RUN_STATES.contains(runState)) {
            throw new IllegalArgumentException("run state " + runState + " is none of " + RUN_STATES);
        }
    }

    @Override
    public int version() {
        return VERSION;
    }

    /**
     * Why a machine configured as {@code here} cannot take this snapshot, naming what differs and
     * the option that sets it; null when it can.
     */
    String mismatch(SnapshotConfig here) {
        if (!machineType.equals(here.machineType)) {
            return "was saved from a " + machineType + " machine; this one is " + here.machineType + " (-M must match)";
        }
        if (ramBytes != here.ramBytes) {
            return String.format("was saved from a machine with %s of RAM; this one has %s (-m must match)",
                size(ramBytes), size(here.ramBytes));
        }
        if (cpus != here.cpus) {
            return "was saved from a machine with " + cpus + " vCPUs; this one has " + here.cpus + " (-smp must match)";
        }
        if (!accelerator.equals(here.accelerator)) {
            return "was saved on the " + accelerator + " engine; this machine runs on " + here.accelerator
                + " (-accel " + accelerator + " restores it)";
        }
        if (!devices.equals(here.devices)) {
            List<String> missing = devices.stream().filter(d -> !here.devices.contains(d)).toList();
            List<String> extra = here.devices.stream().filter(d -> !devices.contains(d)).toList();
            return "was saved from a machine with other devices: " + (missing.isEmpty() ? "" : "this one lacks "
                + String.join(", ", missing) + (extra.isEmpty() ? "" : "; ")) + (extra.isEmpty() ? "" : "this one adds "
                + String.join(", ", extra)) + (missing.isEmpty() && extra.isEmpty() ? "the same devices in another order" : "")
                + " (-device, -drive and -netdev must match)";
        }
        return null;
    }

    private static String size(long bytes) {
        return bytes % (1L << 20) == 0 ? (bytes >> 20) + " MiB" : bytes + " bytes";
    }
}
