package org.jvisor.qmp;

import java.time.Instant;
import java.util.List;

import org.jvisor.api.MigrationStatus;
import org.jvisor.api.ShutdownCause;
import org.jvisor.api.VmEvent;
import org.jvisor.qmp.json.JsonValue.JsonObject;

/** A {@link VmEvent} as QMP sends it: {"timestamp": {"seconds", "microseconds"}, "event": NAME, "data": {...}}. */
final class QmpEvents {
    private QmpEvents() {
    }

    static JsonObject toJson(VmEvent event) {
        JsonObject.Builder b = JsonObject.builder().put("timestamp", timestamp(event.timestamp())).put("event", event.qmpName());
        switch (event) {
            case VmEvent.Shutdown s -> b.put("data", JsonObject.builder().put("guest", s.guest())
                .put("reason", s.reason().qemuName()).build());
            case VmEvent.Reset r -> b.put("data", JsonObject.builder().put("guest", r.guest())
                .put("reason", r.reason().qemuName()).build());
            case VmEvent.Powerdown p -> { }
            case VmEvent.Stop s -> { }
            case VmEvent.Resume r -> { }
            case VmEvent.Migration m -> b.put("data", JsonObject.builder().put("status", m.status()).build());
            // the QMP session names the device as query-block does (QmpCommands); this is the bare form
            case VmEvent.DeviceTrayMoved t -> b.put("data", JsonObject.builder().put("device", t.drive())
                .put("tray-open", t.trayOpen()).put("id", t.drive()).build());
            case VmEvent.BalloonChange c -> b.put("data", JsonObject.builder().put("actual", c.actual()).build());
            case VmEvent.DeviceDeleted d -> b.put("data", JsonObject.builder().put("device", d.device())
                .put("path", "/machine/peripheral/" + d.device()).build());
        }
        return b.build();
    }

    /**
     * One event of each kind, for query-qmp-schema's event entries (QmpSchema reads their data
     * members from {@link #toJson}; it finds one here for each permitted class of VmEvent or fails).
     */
    static List<VmEvent> examples() {
        Instant t = Instant.EPOCH;
        return List.of(new VmEvent.Shutdown(t, ShutdownCause.HOST_QMP_QUIT), new VmEvent.Powerdown(t),
            new VmEvent.Reset(t, ShutdownCause.HOST_QMP_SYSTEM_RESET), new VmEvent.Stop(t), new VmEvent.Resume(t),
            new VmEvent.Migration(t, MigrationStatus.Status.SETUP.qemuName()), new VmEvent.DeviceTrayMoved(t, "drive", true),
            new VmEvent.BalloonChange(t, 1L << 30), new VmEvent.DeviceDeleted(t, "disk1"));
    }

    static JsonObject timestamp(Instant t) {
        return JsonObject.builder().put("seconds", t.getEpochSecond()).put("microseconds", t.getNano() / 1000).build();
    }
}
