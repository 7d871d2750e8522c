package org.jvisor.machine;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.jvisor.config.MachineConfig;
import org.jvisor.testing.JvisorProcess;

/**
 * Fuzzes a restore (-incoming file:) with snapshots that keep their framing valid: the harness
 * starts from a real snapshot of a small pc machine with virtio-blk, -rng and -serial (its
 * sections: CONF, CPUS, DEVS, RAM, END), lets the fuzzer edit, cut, insert, drop, repeat and
 * rename sections, and writes each section with a correct CRC32C unless the fuzzer asks not to,
 * so inputs get past the CRC check into the record decoders and the devices' restore checks
 * (a virtqueue outside RAM, a vector past the MSI-X table). A restore either works or is a
 * MachineException with a message; any other exception, or a machine left half-running, is a
 * bug.
 */
class SnapshotFuzzTest {
    private static final String[] TAGS = {SnapshotFile.CONF, SnapshotFile.CPUS, SnapshotFile.DEVS, SnapshotFile.RAM,
        SnapshotFile.RAMP, SnapshotFile.END, "JUNK"};
    private static final long MEMORY = 16L << 20;

    private record Section(String tag, byte[] payload) {
    }

    /** The seed snapshot and the machine it fits, made once per JVM (lazily: a holder class). */
    private static final class Seed {
        static final Path DIR = tempDir();
        static final MachineConfig CONFIG = config(DIR);
        static final List<Section> SECTIONS = sections(save(CONFIG, DIR.resolve("seed.jvsnap")));

        private static Path tempDir() {
            try {
                Path d = Files.createTempDirectory("jvisor-snapfuzz");
                d.toFile().deleteOnExit();
                return d;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private static MachineConfig config(Path dir) {
        try {
            Path image = dir.resolve("disk.img");
            Files.write(image, new byte[64 << 10]);
            MachineConfig.Transport t = MachineConfig.Transport.PCI;
            return MachineConfig.builder().accel(MachineConfig.Accel.TCG).memory(MEMORY)
                .machineType(MachineConfig.MachineType.PC).kernel(JvisorProcess.guest("spin.elf"))
                .drive(new MachineConfig.DriveConfig("d0", image, true, "writeback", true))
                .device(new MachineConfig.VirtioDeviceConfig.VirtioBlk("d0", t))
                .device(new MachineConfig.VirtioDeviceConfig.VirtioRng(t))
                .chardev(new MachineConfig.ChardevConfig.Null("c0"))
                .device(new MachineConfig.VirtioDeviceConfig.VirtioSerial(2,
                    List.of(new MachineConfig.VirtioSerialPortConfig(0, true, "c0", null)), t))
                .build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A snapshot of the machine after its guest ran a little. */
    private static Path save(MachineConfig config, Path file) {
        try (Machine m = Machine.create(config, System.err, e -> { })) {
            m.resume();
            Thread.sleep(50);
            m.pause();
            m.saveSnapshot(new MigrationEndpoint.File(file), "paused");
            return file;
        } catch (MachineException | InterruptedException e) {
            throw new IllegalStateException("the seed snapshot could not be made", e);
        }
    }

    private static List<Section> sections(Path file) {
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file));
            b.position(SnapshotFile.MAGIC.length + 4);
            List<Section> out = new ArrayList<>();
            while (b.hasRemaining()) {
                byte[] tag = new byte[4];
                b.get(tag);
                byte[] payload = new byte[(int) b.getLong()];
                b.get(payload);
                b.getInt(); // CRC, recomputed on the way out
                out.add(new Section(new String(tag, StandardCharsets.US_ASCII), payload));
            }
            return List.copyOf(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] encode(List<Section> sections, boolean validCrc) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(SnapshotFile.MAGIC);
        out.writeBytes(ByteBuffer.allocate(4).putInt(SnapshotFile.FORMAT_VERSION).array());
        for (Section s : sections) {
            byte[] tag = s.tag().getBytes(StandardCharsets.US_ASCII);
            CRC32C crc = new CRC32C();
            crc.update(tag);
            crc.update(s.payload());
            out.writeBytes(tag);
            out.writeBytes(ByteBuffer.allocate(8).putLong(s.payload().length).array());
            out.writeBytes(s.payload());
            out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue() ^ (validCrc ? 0 : 1)).array());
        }
        return out.toByteArray();
    }

    /** One edit of the section list, drawn from {@code data}. */
    private static void edit(List<Section> sections, FuzzedDataProvider data) {
        if (sections.isEmpty()) {
            sections.add(new Section(data.pickValue(TAGS), data.consumeBytes(64)));
            return;
        }
        int i = data.consumeInt(0, sections.size() - 1);
        Section s = sections.get(i);
        byte[] p = s.payload();
        switch (data.consumeInt(0, 6)) {
            case 0 -> { // overwrite bytes in place: record fields, run headers
                byte[] bytes = data.consumeBytes(16);
                byte[] q = p.clone();
                int at = p.length == 0 ? 0 : data.consumeInt(0, p.length - 1);
                for (int k = 0; k < bytes.length && at + k < q.length; k++) {
                    q[at + k] = bytes[k];
                }
                sections.set(i, new Section(s.tag(), q));
            }
            case 1 -> sections.set(i, new Section(s.tag(), java.util.Arrays.copyOf(p, data.consumeInt(0, p.length))));
            case 2 -> { // insert bytes
                int at = data.consumeInt(0, p.length);
                byte[] bytes = data.consumeBytes(32);
                byte[] q = new byte[p.length + bytes.length];
                System.arraycopy(p, 0, q, 0, at);
                System.arraycopy(bytes, 0, q, at, bytes.length);
                System.arraycopy(p, at, q, at + bytes.length, p.length - at);
                sections.set(i, new Section(s.tag(), q));
            }
            case 3 -> sections.remove(i);
            case 4 -> sections.add(data.consumeInt(0, sections.size()), s);
            case 5 -> sections.set(i, new Section(data.pickValue(TAGS), p));
            default -> { // one 64-bit field set to an extreme (lengths, addresses, counts)
                if (p.length >= 8) {
                    byte[] q = p.clone();
                    ByteBuffer.wrap(q).putLong(data.consumeInt(0, p.length - 8),
                        data.pickValue(new long[] {-1, 0, Long.MAX_VALUE, Long.MIN_VALUE, MEMORY, MEMORY - 8, 1L << 32}));
                    sections.set(i, new Section(s.tag(), q));
                }
            }
        }
    }

    @FuzzTest(maxDuration = "60s")
    void restore(FuzzedDataProvider data) throws IOException {
        List<Section> sections = new ArrayList<>(Seed.SECTIONS);
        int edits = data.consumeInt(1, 4);
        for (int e = 0; e < edits; e++) {
            edit(sections, data);
        }
        boolean validCrc = data.consumeInt(0, 15) != 0;
        Path file = Seed.DIR.resolve("input.jvsnap");
        Files.write(file, encode(sections, validCrc));
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (Machine m = Machine.create(Seed.CONFIG, new PrintStream(log, true), ev -> { },
                new MigrationEndpoint.File(file))) {
            if (m.incomingRunState() == null) {
                throw new AssertionError("a restored machine without the run state it was saved in");
            }
        } catch (MachineException e) {
            if (e.getMessage() == null || e.getMessage().isBlank()) {
                throw new AssertionError("a refused snapshot without a reason", e);
            }
        }
    }
}
