package org.jvisor.api;

import java.time.Instant;

/**
 * A lifecycle event of a {@link VirtualMachine}, as QMP names and sends it. Listeners receive them
 * in the order they happened, on one thread of the machine's own (see
 * {@link VirtualMachine#addListener}); {@link #timestamp()} is the host's wall clock at that moment.
 */
public sealed interface VmEvent {

    /** When it happened (QMP's "timestamp": seconds and microseconds since the epoch). */
    Instant timestamp();

    /** The QMP event name: "SHUTDOWN", "POWERDOWN", "RESET", "STOP", "RESUME", "MIGRATION" or "DEVICE_TRAY_MOVED". */
    default String qmpName() {
        return switch (this) {
            case Shutdown s -> "SHUTDOWN";
            case Powerdown p -> "POWERDOWN";
            case Reset r -> "RESET";
            case Stop s -> "STOP";
            case Resume r -> "RESUME";
            case Migration m -> "MIGRATION";
            case DeviceTrayMoved t -> "DEVICE_TRAY_MOVED";
            case BalloonChange b -> "BALLOON_CHANGE";
            case DeviceDeleted d -> "DEVICE_DELETED";
        };
    }

    /**
     * The machine shut down, or was asked to: ends it, or with -no-shutdown (for a guest-initiated
     * shutdown) stops its vCPUs in {@link RunState#SHUTDOWN}.
     *
     * @param timestamp when
     * @param reason    why, and whether the guest asked ({@link #guest()})
     */
    record Shutdown(Instant timestamp, ShutdownCause reason) implements VmEvent {
        /** Whether the guest caused it. */
        public boolean guest() {
            return reason.guest();
        }
    }

    /**
     * The host pressed the ACPI power button ({@link VirtualMachine#powerDown()}).
     *
     * @param timestamp when
     */
    record Powerdown(Instant timestamp) implements VmEvent {
    }

    /**
     * The machine was reset: devices and vCPUs back to power-on, the kernel loaded again.
     *
     * @param timestamp when
     * @param reason    why, and whether the guest asked ({@link #guest()})
     */
    record Reset(Instant timestamp, ShutdownCause reason) implements VmEvent {
        /** Whether the guest caused it. */
        public boolean guest() {
            return reason.guest();
        }
    }

    /**
     * The vCPUs stopped: a pause, a -no-shutdown shutdown, an engine failure or a guest panic.
     *
     * @param timestamp when
     */
    record Stop(Instant timestamp) implements VmEvent {
    }

    /**
     * The vCPUs run again (or for the first time).
     *
     * @param timestamp when
     */
    record Resume(Instant timestamp) implements VmEvent {
    }

    /**
     * A migration (or snapshot save, or restore) changed status: on the source "setup", "active",
     * then "completed" or "failed"; on the destination "active", then "completed" or "failed".
     * QMP sends it only to clients that enabled the "events" migration capability, as QEMU does.
     *
     * @param timestamp when
     * @param status    QEMU's MigrationStatus name
     */
    record Migration(Instant timestamp, String status) implements VmEvent {
    }

    /**
     * A CD-ROM's tray opened or closed: moved by the host ({@link VirtualMachine#ejectMedium} and
     * the other media methods) or by the guest (START STOP UNIT, e.g. Linux's eject).
     *
     * @param timestamp when
     * @param drive     the drive's id (-drive id=)
     * @param trayOpen  the tray is now open
     */
    record DeviceTrayMoved(Instant timestamp, String drive, boolean trayOpen) implements VmEvent {
    }

    /**
     * The guest's balloon driver changed what it holds: the guest now has {@code actual} bytes of
     * its RAM (as {@link VirtualMachine#balloonActual()} says).
     *
     * @param timestamp when
     * @param actual    guest RAM less the balloon, in bytes
     */
    record BalloonChange(Instant timestamp, long actual) implements VmEvent {
    }

    /**
     * A device the guest let go of is gone: out of the machine, its threads and backends closed
     * (QMP's DEVICE_DELETED). {@link VirtualMachine#unplugDevice} asks for that; the guest may
     * also eject a device by itself (ACPI _EJ0), as on QEMU 7.2.
     *
     * @param timestamp when
     * @param device    its id
     */
    record DeviceDeleted(Instant timestamp, String device) implements VmEvent {
    }
}
