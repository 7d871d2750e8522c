package org.jvisor.machine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.config.MachineConfig;
import org.jvisor.devices.ide.AtapiCdrom;

/**
 * A CD-ROM drive with the machine's side of its medium: the image now in it (opened, swapped and
 * closed here) and its entry among the machine's drives, which query-block reports. The tray and
 * what the guest sees are the {@link AtapiCdrom}'s; the QMP semantics (open the tray, then take
 * the medium out...) are the caller's.
 */
public final class CdromSlot {
    private final String driveId;
    private final AtapiCdrom cdrom;
    private final Consumer<String> warn;
    private final DriveUpdate update;

    /** Replaces the drive's entry in the machine's list when its medium changes. */
    interface DriveUpdate {
        void medium(MachineConfig.DriveConfig config, long size, String format);
    }

    CdromSlot(String driveId, AtapiCdrom cdrom, Consumer<String> warn, DriveUpdate update) {
        this.driveId = driveId;
        this.cdrom = cdrom;
        this.warn = warn;
        this.update = update;
    }

    /** The -drive id. */
    public String driveId() {
        return driveId;
    }

    public AtapiCdrom cdrom() {
        return cdrom;
    }

    /**
     * Opens {@code file} as a medium for this drive ({@code format} null: probed, with QEMU's
     * warning); nothing changes in the drive until {@link #insert}.
     */
    public BlockBackend open(Path file, String format, boolean readOnly) throws IOException {
        return BlockImages.open(file, format, readOnly, CacheMode.WRITEBACK, false,
            msg -> warn.accept("-drive " + file + ": " + msg));
    }

    /**
     * Puts {@code medium}, opened from {@code file} by {@link #open}, into the open tray in place of
     * what is there, which is closed.
     *
     * @throws IllegalStateException if the tray is closed (the medium is closed then)
     */
    public void insert(BlockBackend medium, Path file, String format, boolean readOnly) throws IOException {
        try {
            swap(medium);
        } catch (IllegalStateException e) {
            medium.close();
            throw e;
        }
        String probed = BlockImages.formatName(medium);
        update.medium(new MachineConfig.DriveConfig(driveId, file, probed, readOnly, "writeback", false, false),
            medium.size(), probed);
    }

    /**
     * Takes the medium out of the open tray and closes it (nothing happens without one).
     *
     * @throws IllegalStateException if the tray is closed
     */
    public void remove() throws IOException {
        swap(null);
        update.medium(new MachineConfig.DriveConfig(driveId, null, "raw", true, "writeback", false, false), 0, "");
    }

    private void swap(BlockBackend medium) throws IOException {
        BlockBackend old = cdrom.replaceMedium(medium);
        if (old != null) {
            old.close();
        }
    }

    /** Closes the medium in the drive, when the machine ends. */
    void close() throws IOException {
        BlockBackend medium = cdrom.medium().orElse(null);
        if (medium != null) {
            medium.close();
        }
    }
}
