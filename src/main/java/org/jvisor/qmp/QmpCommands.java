package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

import org.jvisor.api.BlockDeviceInfo;
import org.jvisor.api.ChardevInfo;
import org.jvisor.api.IoThreadInfo;
import org.jvisor.api.MigrationStatus;
import org.jvisor.api.RunState;
import org.jvisor.api.VcpuInfo;
import org.jvisor.api.VirtualMachine;
import org.jvisor.api.VmEvent;
import org.jvisor.api.VmException;
import org.jvisor.config.MachineConfig;
import org.jvisor.qmp.QmpCommandTable.Command;
import org.jvisor.qmp.QmpCommandTable.Handler;
import org.jvisor.qmp.QmpCommandTable.Param;
import org.jvisor.qmp.QmpCommandTable.Type;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonArray;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * The QMP commands jvisor implements, with QEMU 7.2's argument checks and reply shapes
 * (qapi/*.json; the shapes were captured from qemu-system-x86_64 7.2). Every command goes through
 * the public API ({@link VirtualMachine}); a state the API refuses becomes QEMU's GenericError.
 * qmp_capabilities is listed here for query-commands and argument checking, but its effect (the
 * session's mode) is the session's.
 */
final class QmpCommands implements QmpService {
    /** The QEMU version jvisor answers as (libvirt 9.0 needs at least 4.2; 7.2 is Debian 12's). */
    static final int MAJOR = 7;
    static final int MINOR = 2;
    static final int MICRO = 0;

    private final VirtualMachine vm;
    private final String packageName;
    private final boolean autostart;
    private final Supplier<List<ChardevInfo>> monitorChardevs;
    private final QmpCommandTable table = new QmpCommandTable();
    private final QomNames names;
    private final BlockNodes blockNodes;
    /** The human monitor's commands: human-monitor-command's and the interactive monitors'. */
    private final HumanMonitor hmp;

    /**
     * @param packageName     query-version's "package": "jvisor VERSION"
     * @param autostart       no -S: a guest restored by migrate-incoming that was running when
     *                        saved runs on at once, as QEMU's incoming side does
     * @param monitorChardevs the monitors' own chardevs, for query-chardev
     * @param names           the -device ids and -blockdev disks (qom-list, query-block)
     */
    QmpCommands(VirtualMachine vm, String packageName, boolean autostart, Supplier<List<ChardevInfo>> monitorChardevs,
                QomNames names) {
        this.names = names;
        this.blockNodes = new BlockNodes(names);
        this.vm = vm;
        this.autostart = autostart;
        this.packageName = packageName;
        this.monitorChardevs = monitorChardevs;
        add("qmp_capabilities", List.of(new Param("enable", Type.ARRAY, false)), a -> JsonObject.EMPTY);
        add("query-status", List.of(), a -> status());
        add("stop", List.of(), a -> lifecycle(vm::pause));
        add("cont", List.of(), a -> lifecycle(vm::resume));
        add("system_reset", List.of(), a -> lifecycle(vm::reset));
        add("system_powerdown", List.of(), a -> lifecycle(vm::powerDown));
        add("quit", List.of(), a -> lifecycle(vm::quit));
        add("query-version", List.of(), a -> version());
        add("query-commands", List.of(), a -> table.names());
        add("query-kvm", List.of(), a -> JsonObject.builder()
            .put("enabled", "kvm".equals(vm.accelerator())).put("present", true).build());
        add("query-target", List.of(), a -> JsonObject.builder().put("arch", "x86_64").build());
        add("query-name", List.of(), a -> vm.name()
            .map(n -> JsonObject.builder().put("name", n).build()).orElse(JsonObject.EMPTY));
        // -uuid, or QEMU's all-zero answer without one
        add("query-uuid", List.of(), a -> JsonObject.builder().put("UUID",
            (vm.config().uuid() != null ? vm.config().uuid() : new java.util.UUID(0, 0)).toString()).build());
        add("query-cpus-fast", List.of(), a -> cpus());
        add("query-block", List.of(), a -> blocks());
        add("query-named-block-nodes", List.of(new Param("flat", Type.BOOL, false)), a -> namedNodes());
        add("query-blockstats", List.of(new Param("query-nodes", Type.BOOL, false)), a -> blockStats());
        // the balloon (-device virtio-balloon-*): QEMU's answer and words where there is none
        add("query-balloon", List.of(), a -> JsonObject.builder().put("actual",
            vm.balloonActual().orElseThrow(QmpCommands::noBalloon)).build());
        add("balloon", List.of(new Param("value", Type.INT, true)), a -> {
            long value = ((JsonValue.JsonInt) a.members().get("value")).value();
            if (value <= 0) {
                throw QmpError.generic("Parameter 'target' expects a size");
            }
            if (!vm.setBalloonTarget(value)) {
                throw noBalloon();
            }
            return JsonObject.EMPTY;
        });
        add("query-iothreads", List.of(), a -> ioThreads());
        add("query-chardev", List.of(), a -> chardevs());
        // snapshots: QEMU's migrate to a file:PATH URI, and the incoming side (-incoming defer)
        add("migrate", List.of(new Param("uri", Type.STRING, true), new Param("blk", Type.BOOL, false),
            new Param("inc", Type.BOOL, false), new Param("detach", Type.BOOL, false), new Param("resume", Type.BOOL, false)),
            this::migrate);
        add("query-migrate", List.of(), a -> migrationInfo(vm.queryMigrate()));
        add("migrate_cancel", List.of(), a -> {
            try {
                vm.cancelMigration();
            } catch (IllegalStateException e) {
                throw QmpError.generic(e.getMessage());
            }
            return JsonObject.EMPTY;
        });
        add("migrate-incoming", List.of(new Param("uri", Type.STRING, true)), this::migrateIncoming);
        // the one migration parameter jvisor's live migration has: how long it may stop the guest
        add("migrate-set-parameters", List.of(new Param("downtime-limit", Type.INT, false)), a -> {
            if (a.members().get("downtime-limit") instanceof JsonValue.JsonInt ms) {
                try {
                    vm.setMigrationDowntimeLimit(ms.value());
                } catch (IllegalArgumentException e) {
                    throw QmpError.generic(e.getMessage());
                }
            }
            return JsonObject.EMPTY;
        });
        add("query-migrate-parameters", List.of(), a -> JsonObject.builder()
            .put("downtime-limit", vm.migrationDowntimeLimit()).build());
        migrationCapabilities = MigrationCapabilities.register(this);
        hmp = new HumanMonitor(this, vm, packageName);
        add("human-monitor-command", List.of(new Param("command-line", Type.STRING, true),
            new Param("cpu-index", Type.INT, false)), hmp::execute);
        MediaCommands.register(this, vm, names, this::qdevPath, blockNodes);
        BlockdevCommands.register(this, blockNodes);
        QmpDiscovery.register(table, vm::accelerator);
        Map<String, String> peripherals = java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>(names.peripherals()));
        QomTree.register(this, vm, peripherals);
        FdCommands.register(table);
        DeviceHotplugCommands.register(this, vm, peripherals, blockNodes, names);
    }

    HumanMonitor humanMonitor() {
        return hmp;
    }

    void add(String name, List<Param> params, Handler handler) {
        table.add(name, params, handler);
    }

    /** Adds a command that takes arguments besides {@code params} (its handler checks them). */
    void addOpen(String name, List<Param> params, Handler handler) {
        table.addOpen(name, params, handler);
    }

    /** Every command, in registration order (query-commands, query-qmp-schema). */
    java.util.Collection<Command> all() {
        return table.all();
    }

    /** The command called {@code name}, or null. */
    Command lookup(String name) {
        return table.lookup(name);
    }

    @Override
    public QmpCommandTable commands() {
        return table;
    }

    /** MIGRATION events go only where the "events" capability is on (QEMU's migration_has_events). */
    @Override
    public AutoCloseable subscribe(Consumer<JsonObject> sink) {
        EventThrottle balloon = new EventThrottle(BALLOON_CHANGE_PERIOD_NANOS, sink);
        AutoCloseable listener = vm.addListener(e -> {
            if (e instanceof VmEvent.BalloonChange) {
                balloon.offer(QmpEvents.toJson(e));
            } else if (!(e instanceof VmEvent.Migration) || migrationCapabilities.enabled("events")) {
                sink.accept(e instanceof VmEvent.DeviceTrayMoved t ? trayMoved(t) : QmpEvents.toJson(e));
            }
        });
        return () -> {
            balloon.close();
            listener.close();
        };
    }

    /** QEMU's rate for BALLOON_CHANGE: at most one a second per monitor. */
    static final long BALLOON_CHANGE_PERIOD_NANOS = 1_000_000_000L;

    private final java.util.concurrent.atomic.AtomicBoolean incomingStarted = new java.util.concurrent.atomic.AtomicBoolean();

    /** migrate-set-capabilities' state; MIGRATION events need "events" on. */
    private final MigrationCapabilities migrationCapabilities;

    /** Runs {@code name} without arguments (the human monitor's commands). */
    JsonValue execute(String name) throws QmpError {
        return table.execute(table.lookup(name), JsonObject.EMPTY);
    }

    /** Runs {@code name} with {@code arguments} (the human monitor's commands). */
    JsonValue execute(String name, JsonObject arguments) throws QmpError {
        return table.execute(table.lookup(name), arguments);
    }

    private interface LifecycleCall {
        void run();
    }

    /** A lifecycle method: {} on success, GenericError with the API's reason (QEMU's text) when the state refuses. */
    private static JsonValue lifecycle(LifecycleCall call) throws QmpError {
        try {
            call.run();
        } catch (IllegalStateException e) {
            throw QmpError.generic(e.getMessage());
        }
        return JsonObject.EMPTY;
    }

    /**
     * migrate: {} once the snapshot is written (jvisor's migration is stop-and-copy to a file and
     * ends inside the command); a failed save is reported by query-migrate, as QEMU reports a
     * failed migration, and the guest runs on. A URI jvisor does not take, or a machine that can
     * be neither stopped nor saved, is a GenericError.
     */
    private JsonValue migrate(JsonObject a) throws QmpError {
        if (a.members().get("blk") instanceof JsonValue.JsonBool b && b.value()
                || a.members().get("inc") instanceof JsonValue.JsonBool i && i.value()) {
            throw QmpError.generic("Block migration is not supported: the disk images are the user's");
        }
        try {
            // as QEMU: the reply comes at once; query-migrate and MIGRATION events tell the rest
            vm.startMigration(((JsonValue.JsonString) a.members().get("uri")).value());
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw QmpError.generic(e.getMessage());
        }
        return JsonObject.EMPTY;
    }

    /**
     * migrate-incoming: restores a machine started with -incoming defer; it runs on if it ran when
     * saved (no -S). A file is read before the reply; a socket or command is waited for in the
     * background, as QEMU does (query-status says inmigrate until it is done, MIGRATION events
     * and the machine's end on failure tell the rest).
     */
    private JsonValue migrateIncoming(JsonObject a) throws QmpError {
        String uri = ((JsonValue.JsonString) a.members().get("uri")).value();
        try {
            VirtualMachine.checkMigrationUri(uri);
        } catch (IllegalArgumentException e) {
            throw QmpError.generic(e.getMessage());
        }
        if (vm.status() != RunState.INMIGRATE) {
            throw QmpError.generic("'-incoming' was not specified on the command line");
        }
        if (!incomingStarted.compareAndSet(false, true)) {
            throw QmpError.generic("The incoming migration has already been started");
        }
        if (uri.startsWith("file:")) {
            incoming(uri);
        } else {
            Thread.ofVirtual().name("migrate-incoming").start(() -> {
                try {
                    incoming(uri);
                } catch (QmpError e) {
                    // the machine has ended with the reason on its log; MIGRATION "failed" was sent
                }
            });
        }
        return JsonObject.EMPTY;
    }

    private void incoming(String uri) throws QmpError {
        try {
            vm.migrateIncoming(uri, autostart);
        } catch (IllegalArgumentException | IllegalStateException | VmException e) {
            throw QmpError.generic(e.getMessage());
        }
    }

    /** query-migrate's MigrationInfo: {} before any migration, as QEMU answers. */
    private static JsonValue migrationInfo(MigrationStatus m) {
        JsonObject.Builder b = JsonObject.builder();
        switch (m.status()) {
            case NONE -> {
                return JsonObject.EMPTY;
            }
            case FAILED, CANCELLED -> {
                b.put("status", m.status().qemuName());
                m.errorDesc().ifPresent(d -> b.put("error-desc", d));
                return b.build();
            }
            case SETUP, CANCELLING -> {
                return b.put("status", m.status().qemuName()).put("total-time", m.totalTimeMs()).build();
            }
            case ACTIVE, COMPLETED -> {
                b.put("status", m.status().qemuName()).put("total-time", m.totalTimeMs());
                if (m.status() == MigrationStatus.Status.ACTIVE) {
                    b.put("expected-downtime", m.expectedDowntimeMs());
                } else {
                    b.put("downtime", m.downtimeMs());
                }
                // QEMU's MigrationStats; mbps is 10^6 bits per second
                return b.put("setup-time", 0).put("ram", JsonObject.builder().put("total", m.ramTotal())
                    .put("transferred", m.ramTransferred()).put("remaining", m.ramRemaining())
                    .put("duplicate", m.duplicatePages()).put("skipped", 0).put("normal", m.normalPages())
                    .put("normal-bytes", m.normalPages() * 4096).put("dirty-pages-rate", m.dirtyPagesRate())
                    .put("mbps", new JsonValue.JsonDouble(m.bytesPerSecond() * 8 / 1e6)).put("page-size", 4096)
                    .put("dirty-sync-count", m.dirtySyncCount()).build())
                    .build();
            }
        }
        throw new IllegalStateException("unreachable: " + m.status());
    }

    private JsonValue status() {
        RunState s = vm.status();
        return JsonObject.builder().put("status", s.qemuName()).put("singlestep", false).put("running", s.isRunning()).build();
    }

    @Override
    public JsonObject version() {
        return JsonObject.builder()
            .put("qemu", JsonObject.builder().put("micro", MICRO).put("minor", MINOR).put("major", MAJOR).build())
            .put("package", packageName).build();
    }

    /** query-iothreads: each -object iothread with its thread and polling settings, as QEMU 7.2 answers. */
    private JsonValue ioThreads() {
        List<JsonValue> list = new ArrayList<>();
        for (IoThreadInfo t : vm.ioThreads()) {
            list.add(JsonObject.builder()
                .put("id", t.id())
                .put("thread-id", t.hostThreadId())
                .put("poll-max-ns", t.pollMaxNs())
                .put("poll-grow", t.pollGrow())
                .put("poll-shrink", t.pollShrink())
                .put("aio-max-batch", 0).build());
        }
        return new JsonArray(list);
    }

    /** query-cpus-fast: one socket, one core per vCPU, as QEMU 7.2's pc machine lays out -smp N. */
    private JsonValue cpus() {
        List<JsonValue> list = new ArrayList<>();
        for (VcpuInfo c : vm.vcpus()) {
            list.add(JsonObject.builder()
                .put("thread-id", c.hostThreadId())
                .put("props", JsonObject.builder().put("core-id", c.index()).put("thread-id", 0).put("socket-id", 0).build())
                .put("qom-path", "/machine/unattached/device[" + c.index() + "]")
                .put("cpu-index", c.index())
                .put("target", "x86_64").build());
        }
        return new JsonArray(list);
    }

    /** A disk's node name: a -blockdev node's own, QEMU's generated "#blockN" for a -drive. */
    private String nodeName(BlockDeviceInfo b, int i) {
        String node = blockNodes.nodeOf(b.id());
        return node != null ? node : names.blockNodes().containsKey(b.id()) ? b.id() : "#block" + i;
    }

    /** query-named-block-nodes: each disk's node, as query-block's "inserted" describes it. */
    private JsonValue namedNodes() {
        List<JsonValue> list = new ArrayList<>();
        int i = 0;
        for (BlockDeviceInfo b : vm.blockDevices()) {
            list.add(inserted(b, nodeName(b, i++)));
        }
        return new JsonArray(list);
    }

    /** QEMU's BlockDeviceInfo of disk {@code i}: jvisor's throttling and detect-zeroes are off. */
    private static JsonObject inserted(BlockDeviceInfo b, String nodeName) {
        String file = b.file().toString();
        return JsonObject.builder()
                .put("iops_rd", 0).put("detect_zeroes", "off")
                .put("image", JsonObject.builder().put("virtual-size", b.size()).put("filename", file)
                    .put("format", b.format()).put("dirty-flag", false).build())
                .put("iops_wr", 0).put("ro", b.readOnly()).put("node-name", nodeName).put("backing_file_depth", 0)
                .put("drv", b.format()).put("iops", 0).put("bps_wr", 0).put("write_threshold", 0).put("encrypted", false)
                .put("bps", 0).put("bps_rd", 0)
                .put("cache", JsonObject.builder().put("no-flush", false).put("direct", "none".equals(b.cache()))
                    .put("writeback", true).build())
                .put("file", file).build();
    }

    /**
     * query-blockstats: QEMU's BlockStats for each disk (qapi/block-core.json). jvisor merges no
     * requests, keeps no timed statistics and counts discards nowhere: those are zero or empty.
     */
    private JsonValue blockStats() {
        List<JsonValue> list = new ArrayList<>();
        List<BlockDeviceInfo> infos = vm.blockDevices();
        List<org.jvisor.api.BlockDeviceStats> all = vm.blockStats();
        for (int i = 0; i < all.size(); i++) {
            org.jvisor.api.BlockDeviceStats s = all.get(i);
            String user = names.blockNodes().get(s.id());
            JsonObject stats = JsonObject.builder()
                .put("unmap_operations", 0).put("unmap_merged", 0).put("flush_total_time_ns", s.flushNanos())
                .put("wr_highest_offset", s.highestWriteOffset()).put("wr_total_time_ns", s.writeNanos())
                .put("failed_wr_operations", 0).put("failed_rd_operations", 0).put("failed_flush_operations", 0)
                .put("failed_unmap_operations", 0).put("invalid_wr_operations", 0).put("invalid_rd_operations", 0)
                .put("invalid_flush_operations", 0).put("invalid_unmap_operations", 0)
                .put("wr_bytes", s.writtenBytes()).put("rd_bytes", s.readBytes()).put("unmap_bytes", 0)
                .put("rd_merged", 0).put("wr_merged", 0).put("rd_total_time_ns", s.readNanos())
                .put("unmap_total_time_ns", 0).put("rd_operations", s.readOps()).put("wr_operations", s.writeOps())
                .put("flush_operations", s.flushOps()).put("account_invalid", false).put("account_failed", false)
                .put("timed_stats", JsonArray.EMPTY).build();
            JsonObject.Builder b = JsonObject.builder().put("device", user != null ? "" : s.id())
                .put("node-name", nodeName(infos.get(i), i)).put("stats", stats);
            if (user != null && !user.isEmpty()) {
                b.put("qdev", "/machine/peripheral/" + user + "/virtio-backend");
            }
            list.add(b.build());
        }
        return new JsonArray(list);
    }

    /**
     * The device of disk {@code b} (number {@code i}) as query-block's "qdev" and
     * DEVICE_TRAY_MOVED's "id" name it: its id, else its QOM path. An IDE drive is the device
     * itself (QEMU's ide-hd/ide-cd); a virtio disk's drive hangs off its backend.
     */
    String qdevPath(BlockDeviceInfo b, int i) {
        String user = names.deviceOf(b.id());
        boolean onIde = vm.config().ideDrives().stream().anyMatch(d -> d.driveId().equals(b.id()))
            // -device ahci's drives are ide-hd/ide-cd devices too
            || vm.config().ahciControllers().stream().anyMatch(c -> c.drives().stream().anyMatch(d -> d.driveId().equals(b.id())));
        if (onIde && !user.isEmpty()) {
            return user;   // QEMU names an ide-hd/ide-cd with an id by its id
        }
        String backend = onIde ? "" : "/virtio-backend";
        return user.isEmpty()
            ? (onIde ? "/machine/unattached/device[" + i + "]" : "/machine/peripheral-anon/device[" + i + "]") + backend
            : "/machine/peripheral/" + user + backend;
    }

    /** DEVICE_TRAY_MOVED: the drive's name (the -drive id; "" for a -blockdev node) and its device's. */
    private JsonObject trayMoved(VmEvent.DeviceTrayMoved t) {
        List<BlockDeviceInfo> blocks = vm.blockDevices();
        String id = t.drive();
        for (int i = 0; i < blocks.size(); i++) {
            if (blocks.get(i).id().equals(t.drive())) {
                id = qdevPath(blocks.get(i), i);
            }
        }
        return JsonObject.builder().put("timestamp", QmpEvents.timestamp(t.timestamp())).put("event", t.qmpName())
            .put("data", JsonObject.builder().put("device", names.blockNodes().containsKey(t.drive()) ? "" : t.drive())
                .put("tray-open", t.trayOpen()).put("id", id).build()).build();
    }

    /** query-block: QEMU's BlockInfo for each disk; "inserted" only with a medium, the tray for a CD-ROM. */
    private JsonValue blocks() {
        List<JsonValue> list = new ArrayList<>();
        int i = 0;
        for (BlockDeviceInfo b : vm.blockDevices()) {
            String user = names.blockNodes().get(b.id());
            JsonObject.Builder info = JsonObject.builder()
                .put("io-status", "ok").put("device", user != null ? "" : b.id()).put("locked", b.locked())
                .put("removable", b.removable());
            if (b.inserted()) {
                info.put("inserted", inserted(b, nodeName(b, i)));
            }
            info.put("qdev", qdevPath(b, i));
            if (b.removable()) {
                info.put("tray_open", b.trayOpen());
            }
            list.add(info.put("type", "unknown").build());
            i++;
        }
        return new JsonArray(list);
    }

    private JsonValue chardevs() {
        List<JsonValue> list = new ArrayList<>();
        List<ChardevInfo> all = new ArrayList<>(vm.chardevs());
        all.addAll(monitorChardevs.get());
        for (ChardevInfo c : all) {
            list.add(JsonObject.builder().put("frontend-open", c.frontendOpen()).put("filename", c.filename())
                .put("label", c.label()).build());
        }
        return new JsonArray(list);
    }

    private static QmpError noBalloon() {
        return new QmpError(QmpError.ErrorClass.DeviceNotActive, "No balloon device has been activated");
    }
}
