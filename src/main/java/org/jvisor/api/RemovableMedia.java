package org.jvisor.api;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.devices.ide.AtapiCdrom;
import org.jvisor.machine.CdromSlot;
import org.jvisor.machine.Machine;

/**
 * The host's removable-media requests with QEMU 7.2's semantics (blockdev.c: do_open_tray,
 * blockdev_remove_medium, qmp_blockdev_change_medium): a tray the guest locked is not opened
 * unless forced, but the guest is asked to release it; a medium comes out only of an open tray;
 * a new medium is opened before anything moves, so a bad file leaves the old one in. Every tray
 * movement is a {@link VmEvent.DeviceTrayMoved}, delivered before the request returns.
 */
final class RemovableMedia {
    private final Machine machine;
    private final EventDispatcher events;

    RemovableMedia(Machine machine, EventDispatcher events) {
        this.machine = machine;
        this.events = events;
    }

    void eject(String drive, boolean force) throws MediaException {
        CdromSlot s = slot(drive);
        if (!openTray(s, force)) {
            throw locked(drive);
        }
        remove(s);
        delivered();
    }

    void openTray(String drive, boolean force) throws MediaException {
        openTray(slot(drive), force);   // a locked tray: the guest was asked, and that is no error (as QEMU)
        delivered();
    }

    void closeTray(String drive) throws MediaException {
        closeTray(slot(drive));
        delivered();
    }

    void removeMedium(String drive) throws MediaException {
        CdromSlot s = slot(drive);
        if (!s.cdrom().trayOpen()) {
            throw new MediaException(MediaException.Reason.TRAY_CLOSED, "the tray of " + drive + " is not open");
        }
        remove(s);
    }

    /**
     * Opens {@code file}, then opens the tray, swaps the media and closes it.
     *
     * @param readOnly the new medium's mode; empty: the drive's current one
     */
    void changeMedium(String drive, Path file, String format, Optional<Boolean> readOnly) throws MediaException {
        Optional<Machine.AttachedDrive> attached = machine.drives().stream().filter(d -> d.config().id().equals(drive)).findFirst();
        if (attached.isEmpty()) {
            throw notFound(drive);
        }
        boolean ro = readOnly.orElse(attached.get().config().readOnly());
        Optional<CdromSlot> cd = machine.cdrom(drive);
        BlockBackend medium = open(() -> cd.isPresent() ? cd.get().open(file, format, ro) : probeOnly(file, format, ro));
        if (cd.isEmpty()) {
            closeQuietly(medium);
            throw notRemovable(drive);
        }
        CdromSlot s = cd.get();
        try {
            if (!openTray(s, false)) {
                closeQuietly(medium);
                throw locked(drive);
            }
            s.insert(medium, file, format, ro);
        } catch (IOException e) {
            throw new MediaException(MediaException.Reason.CANNOT_OPEN, "closing the old medium failed: " + e.getMessage(), e);
        }
        closeTray(s);
        delivered();
    }

    /** QEMU's blockdev_insert_medium: into an open tray with nothing in it; the tray stays open. */
    void insertMedium(String drive, Path file, String format, boolean readOnly) throws MediaException {
        CdromSlot s = slot(drive);
        AtapiCdrom cd = s.cdrom();
        synchronized (cd.mediaLock()) {
            if (!cd.trayOpen()) {
                throw new MediaException(MediaException.Reason.TRAY_CLOSED, "the tray of " + drive + " is not open");
            }
            if (cd.medium().isPresent()) {
                throw new MediaException(MediaException.Reason.MEDIUM_PRESENT, "there already is a medium in " + drive);
            }
            BlockBackend medium = open(() -> s.open(file, format, readOnly));
            try {
                s.insert(medium, file, format, readOnly);
            } catch (IOException e) {
                throw new MediaException(MediaException.Reason.CANNOT_OPEN, "inserting the medium failed: " + e.getMessage(), e);
            }
        }
    }

    /** Opens a new medium; what cannot be opened is a CANNOT_OPEN refusal. */
    private interface Opener {
        BlockBackend open() throws IOException;
    }

    private static BlockBackend open(Opener o) throws MediaException {
        try {
            return o.open();
        } catch (NoSuchFileException e) {
            throw new MediaException(MediaException.Reason.CANNOT_OPEN, "No such file or directory", e);
        } catch (IOException | RuntimeException e) {
            throw new MediaException(MediaException.Reason.CANNOT_OPEN, e.getMessage(), e);
        }
    }

    /** A disk's drive gets a new image opened as QEMU would, to fail on the image before it fails on the drive. */
    private static BlockBackend probeOnly(Path file, String format, boolean readOnly) throws IOException {
        return org.jvisor.backend.block.BlockImages.open(file, format, readOnly, org.jvisor.backend.block.CacheMode.WRITEBACK,
            false, msg -> { });
    }

    private CdromSlot slot(String drive) throws MediaException {
        Optional<CdromSlot> s = machine.cdrom(drive);
        if (s.isPresent()) {
            return s.get();
        }
        if (machine.drives().stream().anyMatch(d -> d.config().id().equals(drive))) {
            throw notRemovable(drive);
        }
        throw notFound(drive);
    }

    /** QEMU's do_open_tray: true when the tray is open now; a locked one stays closed unless forced, and the guest is asked. */
    private boolean openTray(CdromSlot s, boolean force) {
        AtapiCdrom cd = s.cdrom();
        synchronized (cd.mediaLock()) {
            if (cd.trayOpen()) {
                return true;
            }
            boolean locked = cd.trayLocked();
            if (locked) {
                cd.requestEject(force);
            }
            if (locked && !force) {
                return false;
            }
            cd.moveTray(false);
            moved(s, true);
            return true;
        }
    }

    private void closeTray(CdromSlot s) {
        AtapiCdrom cd = s.cdrom();
        synchronized (cd.mediaLock()) {
            if (cd.trayOpen()) {
                cd.moveTray(true);
                moved(s, false);
            }
        }
    }

    private static void remove(CdromSlot s) throws MediaException {
        try {
            s.remove();
        } catch (IOException e) {
            throw new MediaException(MediaException.Reason.CANNOT_OPEN, "closing the medium failed: " + e.getMessage(), e);
        }
    }

    private void moved(CdromSlot s, boolean open) {
        events.publish(new VmEvent.DeviceTrayMoved(Instant.now(), s.driveId(), open));
    }

    /** The request's events reach the listeners before it returns (QEMU sends them before the reply). */
    private void delivered() {
        try {
            events.awaitPublished();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(BlockBackend b) {
        try {
            b.close();
        } catch (IOException e) {
            // nothing read it: nothing is lost
        }
    }

    private static MediaException notFound(String drive) {
        return new MediaException(MediaException.Reason.NO_SUCH_DRIVE, "no drive " + drive);
    }

    private static MediaException notRemovable(String drive) {
        return new MediaException(MediaException.Reason.NOT_REMOVABLE, drive + " is not removable");
    }

    private static MediaException locked(String drive) {
        return new MediaException(MediaException.Reason.LOCKED, "the guest locked the tray of " + drive);
    }
}
