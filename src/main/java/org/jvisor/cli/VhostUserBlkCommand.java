package org.jvisor.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.DiscardMode;
import org.jvisor.export.VhostUserBlkDevice;
import org.jvisor.export.VhostUserServer;
import org.jvisor.sys.SysException;

/**
 * {@code jvisor vhost-user-blk}: a disk image served to another VMM as a vhost-user-blk backend,
 * following vhost-user.rst's "Back-end program conventions" ({@code --socket-path} or
 * {@code --fd}, {@code --print-capabilities}, the end on SIGTERM). QEMU then uses it with
 * {@code -chardev socket,id=c,path=SOCK -device vhost-user-blk-pci,chardev=c}.
 */
final class VhostUserBlkCommand {
    static final String NAME = "vhost-user-blk";
    /** What --print-capabilities prints (docs/interop/vhost-user.json: VHostUserBackendCapabilitiesBlock). */
    static final String CAPABILITIES = """
        {
          "type": "block",
          "features": [
            "read-only",
            "blk-file"
          ]
        }
        """;
    static final String USAGE = """
        usage: jvisor vhost-user-blk (--socket-path=PATH | --fd=N) (--blockdev=SPEC | --blk-file=FILE)
                                     [--read-only] [--num-queues=N] [--serial=ID]
               jvisor vhost-user-blk --print-capabilities

        Serves a disk image to another VMM as a vhost-user-blk backend (QEMU:
        -chardev socket,id=c,path=PATH -device vhost-user-blk-pci,chardev=c, with guest RAM
        shared: -object memory-backend-memfd,id=mem,size=SIZE,share=on -numa node,memdev=mem).
        Frontends are served one after another; SIGTERM or SIGINT ends it.

          --socket-path=PATH    listen on a Unix socket at PATH (a stale socket there is replaced)
          --fd=N                use the inherited socket N (listening, or connected: served once)
          --blockdev=SPEC       the image: a file name (format probed), or QEMU's -blockdev spelling,
                                e.g. driver=qcow2,file.driver=file,file.filename=disk.qcow2 or
                                driver=raw,file.filename=disk.img,cache.direct=on (raw and qcow2);
                                the guest's discards punch a file name's image, and a SPEC's
                                only with discard=unmap (-blockdev's default: ignore)
          --blk-file=FILE       the image file (as --blockdev=FILE)
          --read-only           refuse writes (the guest sees a read-only disk)
          --num-queues=N        request queues (1-64, default 1; N > 1 offers VIRTIO_BLK_F_MQ)
          --serial=ID           what the guest reads as the disk's serial (default: the file name)
          --print-capabilities  print the backend's capabilities (JSON) and exit
        """;
    /** How long SIGTERM waits for the connection being served to close. */
    private static final Duration SIGNAL_GRACE = Duration.ofSeconds(5);

    /** The parsed command line. */
    record Options(Path socketPath, int fd, String blockdev, boolean readOnly, int numQueues, String serial,
                   boolean printCapabilities, boolean help) {
    }

    private VhostUserBlkCommand() {
    }

    static boolean requested(String[] args) {
        return args.length > 0 && args[0].equals(NAME);
    }

    /** Parses {@code args} after the subcommand's name. */
    static Options parse(String[] args) throws UsageException {
        Path socketPath = null;
        int fd = -1;
        String blockdev = null;
        boolean readOnly = false;
        int numQueues = 1;
        String serial = null;
        boolean caps = false;
        boolean help = false;
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            String key = a;
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                key = a.substring(0, eq);
                value = a.substring(eq + 1);
            }
            switch (key) {
                case "--print-capabilities" -> caps = true;
                case "--help", "-h" -> help = true;
                case "--read-only" -> readOnly = true;
                case "--socket-path", "-s" -> {
                    String v = value != null ? value : next(args, ++i, key);
                    try {
                        socketPath = Path.of(v);
                    } catch (InvalidPathException e) {
                        throw new UsageException(NAME + ": --socket-path: '" + v + "' is not a file name");
                    }
                }
                case "--fd" -> fd = number(key, value != null ? value : next(args, ++i, key), 0, Integer.MAX_VALUE);
                case "--blockdev", "--blk-file", "-b" -> {
                    if (blockdev != null) {
                        throw new UsageException(NAME + ": one disk per backend (" + key + " given twice)");
                    }
                    blockdev = value != null ? value : next(args, ++i, key);
                }
                case "--num-queues" -> numQueues = number(key, value != null ? value : next(args, ++i, key), 1,
                    VhostUserBlkDevice.MAX_QUEUES);
                case "--serial" -> serial = value != null ? value : next(args, ++i, key);
                default -> throw new UsageException(NAME + ": unknown option '" + a + "' (see jvisor " + NAME + " --help)");
            }
        }
        if (caps || help) {
            return new Options(socketPath, fd, blockdev, readOnly, numQueues, serial, caps, help);
        }
        if ((socketPath == null) == (fd < 0)) {
            throw new UsageException(NAME + ": give exactly one of --socket-path=PATH and --fd=N");
        }
        if (blockdev == null || blockdev.isEmpty()) {
            throw new UsageException(NAME + ": --blockdev=FILE-or-SPEC is required (the disk to serve)");
        }
        return new Options(socketPath, fd, blockdev, readOnly, numQueues, serial, false, false);
    }

    private static String next(String[] args, int i, String key) throws UsageException {
        if (i >= args.length) {
            throw new UsageException(NAME + ": " + key + " requires an argument");
        }
        return args[i];
    }

    private static int number(String key, String v, int min, int max) throws UsageException {
        try {
            int n = Integer.parseInt(v);
            if (n < min || n > max) {
                throw new UsageException(NAME + ": " + key + "=" + v + " is out of range (" + min + "-" + max + ")");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException(NAME + ": " + key + "='" + v + "' is not a number");
        }
    }

    /**
     * The image a --blockdev names: its path, its format (null: probed), and its options. A file
     * name punches the guest's discards into the file, as QEMU's contrib vhost-user-blk does; QEMU's
     * -blockdev spelling keeps -blockdev's own default, discard=ignore (qapi BlockdevOptions), so
     * an image served as qemu-storage-daemon would serve it keeps its allocation unless discard=unmap.
     */
    record Image(Path path, String format, boolean readOnly, CacheMode cache, DiscardMode discard) {
    }

    /**
     * A file name, or QEMU's -blockdev spelling of one image (key=value or JSON): driver=file
     * with filename=, or driver=raw|qcow2 over file.filename= (file.driver=file).
     */
    static Image image(String spec, boolean readOnly) throws UsageException {
        boolean structured = JsonOptions.isJson(spec) || spec.startsWith("driver=") || spec.contains(",driver=");
        if (!structured) {
            return new Image(path(spec), null, readOnly, CacheMode.WRITEBACK, DiscardMode.UNMAP);
        }
        String opt = NAME + " --blockdev";
        OptionList o = JsonOptions.isJson(spec) ? JsonOptions.parse(opt, spec, null) : OptionList.parse(opt, spec, false);
        String driver = o.get("driver");
        if (driver == null) {
            throw new UsageException(opt + ": Parameter 'driver' is missing");
        }
        boolean ro = readOnly || o.bool(driver, "read-only", false);
        DiscardMode discard = DiscardMode.byName(o.get("discard") == null ? "ignore" : o.get("discard"));
        if (discard == null) {
            throw new UsageException(opt + ": discard=" + o.get("discard") + " (expected ignore, off, unmap or on)");
        }
        return switch (driver) {
            case "file" -> {
                o.allowOnly(Set.of("driver", "node-name", "filename", "read-only", "cache.direct", "aio", "locking",
                    "discard"), driver);
                yield new Image(path(required(o, "filename", opt)), "raw", ro, cache(o, driver, "cache.direct"), discard);
            }
            case "raw", "qcow2" -> {
                o.allowOnly(Set.of("driver", "node-name", "file", "file.driver", "file.filename", "read-only",
                    "cache.direct", "file.cache.direct", "discard", "file.aio", "file.locking"), driver);
                String fileDriver = o.get("file.driver");
                if (fileDriver != null && !fileDriver.equals("file")) {
                    throw new UsageException(opt + ": file.driver=" + fileDriver + " (only file)");
                }
                String file = o.get("file.filename") != null ? o.get("file.filename") : o.get("file");
                if (file == null || file.isEmpty()) {
                    throw new UsageException(opt + ": Parameter 'file.filename' is missing");
                }
                boolean direct = cache(o, driver, "cache.direct") == CacheMode.NONE
                    || cache(o, driver, "file.cache.direct") == CacheMode.NONE;
                yield new Image(path(file), driver, ro, direct ? CacheMode.NONE : CacheMode.WRITEBACK, discard);
            }
            default -> throw new UsageException(opt + ": driver '" + driver + "' (jvisor serves file, raw and qcow2 images)");
        };
    }

    private static String required(OptionList o, String key, String opt) throws UsageException {
        String v = o.get(key);
        if (v == null || v.isEmpty()) {
            throw new UsageException(opt + ": Parameter '" + key + "' is missing");
        }
        return v;
    }

    private static CacheMode cache(OptionList o, String driver, String key) throws UsageException {
        return o.bool(driver, key, false) ? CacheMode.NONE : CacheMode.WRITEBACK;
    }

    private static Path path(String s) throws UsageException {
        try {
            return Path.of(s);
        } catch (InvalidPathException e) {
            throw new UsageException(NAME + ": '" + s + "' is not a file name");
        }
    }

    static int run(String[] args, PrintStream err) {
        Options o;
        Image image;
        try {
            o = parse(args);
            if (o.help()) {
                System.out.print(USAGE);
                return 0;
            }
            if (o.printCapabilities()) {
                System.out.print(CAPABILITIES);
                return 0;
            }
            image = image(o.blockdev(), o.readOnly());
        } catch (UsageException e) {
            err.println("jvisor: " + e.getMessage());
            return 1;
        }
        Consumer<String> log = msg -> err.println("jvisor: " + msg);
        BlockBackend disk;
        try {
            disk = BlockImages.open(image.path(), image.format(), image.readOnly(), image.cache(), false, image.discard(), log);
        } catch (IOException e) {
            err.println("jvisor: " + NAME + ": " + image.path() + ": " + e.getMessage());
            return 1;
        }
        String serial = o.serial() != null ? o.serial() : String.valueOf(image.path().getFileName());
        VhostUserBlkDevice device = new VhostUserBlkDevice(disk, o.numQueues(), serial, log);
        CountDownLatch done = new CountDownLatch(1);
        try (disk; VhostUserServer server = o.socketPath() != null ? VhostUserServer.listen(o.socketPath(), device, log)
            : VhostUserServer.inherit(o.fd(), device, log)) {
            Thread hook = new Thread(() -> {
                if (done.getCount() == 0) {
                    return; // ended by itself (System.exit after an inherited connection)
                }
                server.stop();
                try {
                    done.await(SIGNAL_GRACE.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "jvisor-signal");
            Runtime.getRuntime().addShutdownHook(hook);
            err.println("jvisor: " + NAME + ": serving " + disk.describe() + " (" + BlockImages.formatName(disk) + ", "
                + disk.size() / 512 + " sectors" + (disk.readOnly() ? ", read-only" : "") + ", " + o.numQueues()
                + (o.numQueues() == 1 ? " queue" : " queues") + ") on " + server.address());
            server.run();
            return 0;
        } catch (IOException e) {
            err.println("jvisor: " + NAME + ": " + e.getMessage());
            return 1;
        } finally {
            done.countDown();
        }
    }
}
