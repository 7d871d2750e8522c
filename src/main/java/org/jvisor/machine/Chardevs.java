package org.jvisor.machine;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import org.jvisor.backend.chr.CharBackend;
import org.jvisor.backend.chr.EscapeFilter;
import org.jvisor.backend.chr.NullBackend;
import org.jvisor.backend.chr.PtyBackend;
import org.jvisor.backend.chr.StreamBackend;
import org.jvisor.backend.chr.UnixSocketServerBackend;
import org.jvisor.config.MachineConfig;

/** The -chardev backends of a machine by id, opened at start-up and closed with the machine. */
final class Chardevs implements AutoCloseable {
    private final Map<String, CharBackend> byId = new LinkedHashMap<>();
    private final Map<String, MachineConfig.ChardevConfig> configs = new LinkedHashMap<>();
    private final List<OutputStream> files = new ArrayList<>();

    private Chardevs() {
    }

    /** Opens every chardev; a file that cannot be created or a socket that cannot listen fails here. */
    static Chardevs open(List<MachineConfig.ChardevConfig> configs, EscapeFilter.Actions escapes, Consumer<String> log)
            throws MachineException {
        Chardevs c = new Chardevs();
        for (MachineConfig.ChardevConfig cfg : configs) {
            if (cfg instanceof MachineConfig.ChardevConfig.SocketClient) {
                c.configs.put(cfg.id(), cfg);   // its vhost-user device connects (and reconnects) itself
                continue;
            }
            try {
                c.byId.put(cfg.id(), c.openOne(cfg, escapes, log));
                c.configs.put(cfg.id(), cfg);
            } catch (IOException | RuntimeException e) {
                c.close();
                throw new MachineException("-chardev id=" + cfg.id() + ": " + e.getMessage());
            }
        }
        return c;
    }

    private CharBackend openOne(MachineConfig.ChardevConfig cfg, EscapeFilter.Actions escapes, Consumer<String> log)
            throws IOException {
        return switch (cfg) {
            case MachineConfig.ChardevConfig.Stdio s -> {
                OutputStream stdout = new FileOutputStream(FileDescriptor.out);
                yield new StreamBackend(stdout, System.in, new EscapeFilter(escapes, stdout));
            }
            case MachineConfig.ChardevConfig.File f -> {
                OutputStream out = Files.newOutputStream(f.path(), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    f.append() ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
                files.add(out);
                yield new StreamBackend(out, null);
            }
            case MachineConfig.ChardevConfig.Socket s -> UnixSocketServerBackend.listen(s.path(), s.waitForClient(),
                msg -> log.accept("-chardev socket,id=" + s.id() + ": " + msg));
            case MachineConfig.ChardevConfig.Null n -> new NullBackend();
            case MachineConfig.ChardevConfig.SocketClient s -> throw new IllegalStateException("opened by its device");
            case MachineConfig.ChardevConfig.Pty p -> {
                PtyBackend pty = PtyBackend.open();
                log.accept("char device redirected to " + pty.path() + " (label " + p.id() + ")");
                yield pty;
            }
        };
    }

    /** The socket client -chardev ID a vhost-user device connects through. */
    MachineConfig.ChardevConfig.SocketClient socketClient(String id) throws MachineException {
        if (configs.get(id) instanceof MachineConfig.ChardevConfig.SocketClient s) {
            return s;
        }
        throw new MachineException("no -chardev socket client with id '" + id + "'");
    }

    /** The backend of -chardev id=ID (the command line checked that it exists). */
    CharBackend get(String id) throws MachineException {
        CharBackend b = byId.get(id);
        if (b == null) {
            throw new MachineException("no -chardev with id '" + id + "'");
        }
        return b;
    }

    /**
     * Each chardev's id and QEMU's "filename" for it (query-chardev): "stdio", "file", "null",
     * "unix:PATH,server=on", prefixed with "disconnected:" while a socket has no client.
     */
    List<Machine.ChardevState> states() {
        List<Machine.ChardevState> list = new ArrayList<>();
        for (Map.Entry<String, MachineConfig.ChardevConfig> e : configs.entrySet()) {
            String filename = switch (e.getValue()) {
                case MachineConfig.ChardevConfig.Stdio s -> "stdio";
                case MachineConfig.ChardevConfig.File f -> "file";
                case MachineConfig.ChardevConfig.Null n -> "null";
                case MachineConfig.ChardevConfig.Pty p -> "pty:" + ((PtyBackend) byId.get(e.getKey())).path();
                case MachineConfig.ChardevConfig.Socket s ->
                    (byId.get(e.getKey()).connected() ? "" : "disconnected:") + "unix:" + s.path() + ",server=on";
                case MachineConfig.ChardevConfig.SocketClient s -> "unix:" + s.path();
            };
            list.add(new Machine.ChardevState(e.getKey(), filename));
        }
        return list;
    }

    @Override
    public void close() {
        for (CharBackend b : byId.values()) {
            b.close();
        }
        for (OutputStream out : files) {
            try {
                out.close();
            } catch (IOException e) {
                // the output was flushed by the backend's close; nothing more to save
            }
        }
    }
}
