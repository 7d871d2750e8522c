package org.jvisor.backend.block;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A raw image whose format was guessed by probing, with QEMU's guard (block/raw-format.c
 * raw_co_pwritev): a write to the first sector that would make the image probe as another format
 * (a guest writing a qcow2 header into its disk, which the next start would then obey, backing
 * file and all) is refused with an I/O error. Specifying format=raw removes the guard.
 */
public final class ProbedRawBackend implements BlockBackend {
    private final BlockBackend raw;
    private final byte[] sector = new byte[ImageFormat.PROBE_BYTES];
    private final ByteBuffer sectorBuf = ByteBuffer.wrap(sector);

    public ProbedRawBackend(BlockBackend raw) {
        this.raw = raw;
    }

    @Override
    public long size() {
        return raw.size();
    }

    @Override
    public boolean readOnly() {
        return raw.readOnly();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        raw.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        if (offset < ImageFormat.PROBE_BYTES && src.hasRemaining()) {
            checkFirstSector(offset, src);
        }
        raw.write(offset, src);
    }

    /** What the first sector would hold after this write must still probe as raw. */
    private synchronized void checkFirstSector(long offset, ByteBuffer src) throws IOException {
        int n = (int) Math.min(size(), ImageFormat.PROBE_BYTES);
        sectorBuf.clear().limit(n);
        raw.read(0, sectorBuf);
        int k = (int) Math.min(src.remaining(), n - offset);
        src.get(src.position(), sector, (int) offset, k);
        ImageFormat f = ImageFormat.probe(sector, n);
        if (f != ImageFormat.RAW) {
            throw new IOException(describe() + ": write to the first sector refused: the image's format was probed "
                + "and this write would make it probe as " + f.qemuName() + " (give format=raw to allow it)");
        }
    }

    @Override
    public void flush() throws IOException {
        raw.flush();
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        raw.discard(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        raw.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public boolean synchronousOnPageCache() {
        return raw.synchronousOnPageCache();
    }

    @Override
    public String describe() {
        return raw.describe();
    }

    @Override
    public void close() throws IOException {
        raw.close();
    }
}
