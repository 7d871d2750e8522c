package org.jvisor.qmp;

import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import org.jvisor.api.BlockDeviceInfo;
import org.jvisor.api.MediaException;
import org.jvisor.api.VirtualMachine;
import org.jvisor.config.BlockNodeException;
import org.jvisor.config.MachineConfig;
import org.jvisor.qmp.QmpCommandTable.Param;
import org.jvisor.qmp.QmpCommandTable.Type;
import org.jvisor.qmp.json.JsonValue;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/**
 * QEMU 7.2's removable-media commands (qapi/block.json, block-core.json): eject,
 * blockdev-open-tray, blockdev-close-tray, blockdev-remove-medium, blockdev-insert-medium (a node
 * of {@link BlockNodes}) and blockdev-change-medium, a
 * drive named by its -drive id ("device") or by its device's id or QOM path ("id"), with QEMU's
 * error classes and texts. The semantics are the API's ({@link VirtualMachine#ejectMedium}...).
 */
final class MediaCommands {
    private final VirtualMachine vm;
    private final QomNames names;
    private final QdevPaths qdevPaths;
    private final BlockNodes nodes;

    /** query-block's "qdev" of disk number i. */
    interface QdevPaths {
        String of(BlockDeviceInfo b, int i);
    }

    private MediaCommands(VirtualMachine vm, QomNames names, QdevPaths qdevPaths, BlockNodes nodes) {
        this.vm = vm;
        this.names = names;
        this.qdevPaths = qdevPaths;
        this.nodes = nodes;
    }

    static void register(QmpCommands commands, VirtualMachine vm, QomNames names, QdevPaths qdevPaths, BlockNodes nodes) {
        MediaCommands m = new MediaCommands(vm, names, qdevPaths, nodes);
        Param device = new Param("device", Type.STRING, false);
        Param id = new Param("id", Type.STRING, false);
        Param force = new Param("force", Type.BOOL, false);
        commands.add("eject", List.of(device, id, force), a -> {
            Target t = m.target(a);
            return m.run(t, null, () -> {
                vm.ejectMedium(t.drive(), bool(a, "force"));
                nodes.released(t.drive());
            });
        });
        commands.add("blockdev-open-tray", List.of(device, id, force), a -> {
            Target t = m.target(a);
            return m.run(t, null, () -> vm.openTray(t.drive(), bool(a, "force")));
        });
        commands.add("blockdev-close-tray", List.of(device, id), a -> {
            Target t = m.target(a);
            return m.run(t, null, () -> vm.closeTray(t.drive()));
        });
        commands.add("blockdev-remove-medium", List.of(new Param("id", Type.STRING, true)), a -> {
            Target t = m.target(a);
            return m.run(t, null, () -> {
                vm.removeMedium(t.drive());
                nodes.released(t.drive());
            });
        });
        commands.add("blockdev-change-medium", List.of(device, id, new Param("filename", Type.STRING, true),
            new Param("format", Type.STRING, false), new Param("force", Type.BOOL, false),
            new Param("read-only-mode", Type.STRING, false)), a -> {
                Target t = m.target(a);
                String file = string(a, "filename");
                String format = string(a, "format");
                if (format != null && !format.equals("raw") && !format.equals("qcow2")) {
                    throw QmpError.generic("Unknown driver '" + format + "' (jvisor opens raw and qcow2 images)");
                }
                Optional<Boolean> readOnly = readOnlyMode(string(a, "read-only-mode"));
                return m.run(t, file, () -> {
                    vm.changeMedium(t.drive(), Path.of(file), format, readOnly);
                    nodes.released(t.drive());   // the medium is the file now, no named node
                });
            });
        commands.add("blockdev-insert-medium", List.of(new Param("id", Type.STRING, true),
            new Param("node-name", Type.STRING, true)), a -> {
                Target t = m.target(a);
                String node = string(a, "node-name");
                synchronized (nodes) {
                    MachineConfig.DriveConfig d;
                    try {
                        d = nodes.free(node);
                    } catch (BlockNodeException e) {
                        throw QmpError.generic(e.getMessage());
                    }
                    if (d == null) {
                        throw QmpError.generic("Node '" + node + "' not found");
                    }
                    return m.run(t, d.file().toString(), () -> {
                        vm.insertMedium(t.drive(), d.file(), d.format(), d.readOnly());
                        nodes.inserted(t.drive(), node);
                    });
                }
            });
    }

    /** A drive as the command named it: its -drive id, and the name QEMU's messages use (device ?: id). */
    record Target(String drive, String name) {
    }

    private interface MediaCall {
        void run() throws MediaException;
    }

    /** The drive "device" or "id" names; exactly one of them (QEMU's qmp_get_blk). */
    Target target(JsonObject a) throws QmpError {
        String device = string(a, "device");
        String id = string(a, "id");
        if ((device == null) == (id == null)) {
            throw QmpError.generic("Need exactly one of 'device' and 'id'");
        }
        List<BlockDeviceInfo> blocks = vm.blockDevices();
        for (int i = 0; i < blocks.size(); i++) {
            String drive = blocks.get(i).id();
            if (device != null ? drive.equals(device) && !names.blockNodes().containsKey(drive)
                    : id.equals(names.deviceOf(drive)) && !id.isEmpty() || id.equals(qdevPaths.of(blocks.get(i), i))) {
                return new Target(drive, device != null ? device : id);
            }
        }
        throw new QmpError(QmpError.ErrorClass.DeviceNotFound, "Device '" + (device != null ? device : id) + "' not found");
    }

    JsonValue run(Target t, String file, MediaCall call) throws QmpError {
        try {
            call.run();
            return JsonObject.EMPTY;
        } catch (MediaException e) {
            String n = t.name();
            throw switch (e.reason()) {
                case NO_SUCH_DRIVE -> new QmpError(QmpError.ErrorClass.DeviceNotFound, "Device '" + n + "' not found");
                case NOT_REMOVABLE -> QmpError.generic("Device '" + n + "' is not removable");
                case LOCKED -> QmpError.generic("Device '" + n + "' is locked and force was not specified, "
                    + "wait for tray to open and try again");
                case TRAY_CLOSED -> QmpError.generic("Tray of device '" + n + "' is not open");
                case MEDIUM_PRESENT -> QmpError.generic("There already is a medium in the device");   // QEMU's words, no name
                case CANNOT_OPEN -> QmpError.generic(e.getCause() instanceof NoSuchFileException
                    ? "Could not open '" + file + "': No such file or directory"
                    : file != null ? "Could not open '" + file + "': " + e.getMessage() : e.getMessage());
            };
        }
    }

    /** blockdev-change-medium's read-only-mode: retain (the drive's mode), read-only, read-write. */
    private static Optional<Boolean> readOnlyMode(String mode) throws QmpError {
        if (mode == null || mode.equals("retain")) {
            return Optional.empty();
        }
        return switch (mode) {
            case "read-only" -> Optional.of(true);
            case "read-write" -> Optional.of(false);
            default -> throw QmpError.generic("Parameter 'read-only-mode' does not accept value '" + mode + "'");
        };
    }

    private static String string(JsonObject a, String key) {
        return a.members().get(key) instanceof JsonValue.JsonString s ? s.value() : null;
    }

    private static boolean bool(JsonObject a, String key) {
        return a.members().get(key) instanceof JsonValue.JsonBool b && b.value();
    }
}
