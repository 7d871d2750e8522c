package org.jvisor.backend.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.jvisor.backend.block.qcow2.Qcow2Backend;
import org.jvisor.backend.block.qcow2.Qcow2Creator;

/**
 * The one way a disk image is opened (-drive, the embedding API, later -blockdev): the format
 * given or probed as QEMU does, the backing chain of a qcow2 image (relative names resolved
 * against the overlay's directory as QEMU's bdrv_get_full_backing_filename does, each file
 * opened read-only, a loop refused), and -snapshot's temporary overlay.
 */
public final class BlockImages {
    /** Backing chains longer than this are refused (a loop through many distinct names). */
    public static final int MAX_CHAIN = 256;

    private BlockImages() {
    }

    /**
     * Opens {@code path}.
     *
     * @param format   "raw", "qcow2", or null to probe (QEMU's warning for a probed raw image goes
     *                 to {@code warn}, and writes that would change its probed format are refused)
     * @param snapshot QEMU's snapshot=on: writes go to a temporary qcow2 overlay, deleted when
     *                 closed (it is unlinked at once, so even a killed jvisor leaves nothing), and
     *                 the image is opened read-only
     */
    public static BlockBackend open(Path path, String format, boolean readOnly, CacheMode cache, boolean snapshot,
                                    Consumer<String> warn) throws IOException {
        return open(path, format, readOnly, cache, snapshot, DiscardMode.UNMAP, warn);
    }

    /**
     * As {@link #open(Path, String, boolean, CacheMode, boolean, Consumer)}, the guest's discards
     * handled as {@code discard} says (-drive's discard=, QEMU's default ignore; the overload
     * without it unmaps, as the backends do).
     */
    public static BlockBackend open(Path path, String format, boolean readOnly, CacheMode cache, boolean snapshot,
                                    DiscardMode discard, Consumer<String> warn) throws IOException {
        if (snapshot) {
            return openSnapshot(path, format, readOnly, cache, discard, warn);
        }
        return open(path, format, readOnly, cache, discard, warn, true, new ArrayList<>());
    }

    private static BlockBackend open(Path path, String format, boolean readOnly, CacheMode cache, DiscardMode discard,
                                     Consumer<String> warn, boolean warnProbe, List<Path> chain) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "disk image does not exist");
        }
        Path real = path.toRealPath();
        if (chain.contains(real)) {
            throw new IOException("backing file loop: " + chain.stream().map(Path::toString)
                .collect(Collectors.joining(" -> ")) + " -> " + real);
        }
        if (chain.size() >= MAX_CHAIN) {
            throw new IOException(path + ": backing chain longer than " + MAX_CHAIN + " images");
        }
        chain.add(real);
        ImageFormat f;
        boolean probed = false;
        if (format == null) {
            f = probe(path);
            probed = f == ImageFormat.RAW;
            if (probed && warnProbe) {
                warn.accept("warning: Image format was not specified for '" + path + "' and probing guessed raw. "
                    + "Automatically detecting the format is dangerous for raw images, write operations on block 0 "
                    + "will be restricted. Specify the 'raw' format explicitly to remove the restrictions.");
            }
        } else {
            f = ImageFormat.byName(format);
            if (f == null) {
                throw new IOException(path + ": format '" + format + "' is not a disk image format jvisor knows "
                    + "(raw or qcow2)");
            }
        }
        switch (f) {
            case RAW -> {
                RawFileBackend raw = RawFileBackend.open(path, readOnly, cache, discard, warn);
                return probed && !readOnly ? new ProbedRawBackend(raw) : raw;
            }
            case QCOW2 -> {
                RawFileBackend file = RawFileBackend.openContainer(path, readOnly, cache, discard, warn);
                try {
                    return Qcow2Backend.open(file, readOnly, (name, fmt) -> {
                        Path b = Path.of(name);
                        if (!b.isAbsolute()) {
                            Path dir = path.toAbsolutePath().getParent();
                            b = dir == null ? b : dir.resolve(b);
                        }
                        return open(b, fmt, true, cache, DiscardMode.IGNORE, warn, false, chain);   // read-only
                    }, warn, discard);
                } catch (IOException | RuntimeException e) {
                    file.close();
                    throw e;
                }
            }
            default -> throw new IOException(path + ": " + f.qemuName() + " images are not supported (jvisor "
                + "opens raw and qcow2; convert it with 'qemu-img convert -O qcow2')");
        }
    }

    /** QEMU's name of the format {@code b} serves (the top of the chain: qcow2 under -snapshot). */
    public static String formatName(BlockBackend b) {
        return b instanceof Qcow2Backend ? ImageFormat.QCOW2.qemuName() : ImageFormat.RAW.qemuName();
    }

    /** The format of {@code path} by its first sector. */
    public static ImageFormat probe(Path path) throws IOException {
        byte[] head = new byte[ImageFormat.PROBE_BYTES];
        int n = 0;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.wrap(head);
            while (b.hasRemaining()) {
                int r = ch.read(b);
                if (r < 0) {
                    break;
                }
                n += r;
            }
        } catch (IOException e) {
            throw new IOException("cannot read disk image " + path + " to probe its format: " + e.getMessage(), e);
        }
        return ImageFormat.probe(head, n);
    }

    /**
     * -snapshot: the image read-only under a temporary qcow2 overlay in $TMPDIR (QEMU's
     * get_tmp_filename: /var/tmp when unset) that is unlinked as soon as it is open.
     */
    private static BlockBackend openSnapshot(Path path, String format, boolean readOnly, CacheMode cache,
                                             DiscardMode discard, Consumer<String> warn) throws IOException {
        BlockBackend base = open(path, format, true, cache, DiscardMode.IGNORE, warn, true, new ArrayList<>());
        Path overlay = null;
        try {
            String tmp = System.getenv("TMPDIR");
            Path dir = Path.of(tmp == null || tmp.isEmpty() ? "/var/tmp" : tmp);
            overlay = Files.createTempFile(dir, "vl.", ".qcow2");
            String baseFormat = base instanceof Qcow2Backend ? "qcow2" : "raw";
            Qcow2Creator.create(overlay, base.size(), Qcow2Creator.DEFAULT_CLUSTER_BITS,
                path.toAbsolutePath().toString(), baseFormat);
            RawFileBackend file = RawFileBackend.openContainer(overlay, readOnly, CacheMode.WRITEBACK, discard, warn);
            BlockBackend top;
            try {
                top = Qcow2Backend.open(file, readOnly, (n, f) -> base, warn, discard);
            } catch (IOException | RuntimeException e) {
                file.close();
                throw e;
            }
            Files.deleteIfExists(overlay);
            return top;
        } catch (IOException | RuntimeException e) {
            base.close();
            if (overlay != null) {
                Files.deleteIfExists(overlay);
            }
            throw new IOException("-snapshot: cannot create the temporary overlay for " + path + ": "
                + e.getMessage(), e);
        }
    }
}
