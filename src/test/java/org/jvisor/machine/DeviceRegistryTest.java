package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.acpi.ResetControl;
import org.jvisor.devices.state.DeviceStateException;

/** The registry's loops: start and reset in order, close in reverse and past failures, ids unique. */
class DeviceRegistryTest {
    final List<String> log = new ArrayList<>();
    final DeviceRegistry registry = new DeviceRegistry(log::add);

    MachineDevice device(String id) {
        return MachineDevice.of(id, null)
            .onStart(() -> log.add("start " + id))
            .onReset(() -> log.add("reset " + id))
            .onClose(() -> log.add("close " + id));
    }

    @Test
    void startAndResetRunInOrderAndCloseInReverse() {
        registry.add(device("pic"));
        registry.add(device("rtc"));
        registry.add(device("virtio-rng0@pci.0:01.0"));
        registry.start();
        registry.reset();
        registry.close();
        assertEquals(List.of("start pic", "start rtc", "start virtio-rng0@pci.0:01.0",
            "reset pic", "reset rtc", "reset virtio-rng0@pci.0:01.0",
            "close virtio-rng0@pci.0:01.0", "close rtc", "close pic"), log);
    }

    @Test
    void aDeviceThatFailsToCloseIsReportedAndTheOthersStillClose() {
        registry.add(device("drive:d0").onClose(() -> {
            throw new IOException("flush failed: no space left on device");
        }));
        registry.add(device("virtio-blk0@pci.0:03.0"));
        registry.close();
        assertEquals(List.of("close virtio-blk0@pci.0:03.0", "closing drive:d0: flush failed: no space left on device"), log);
    }

    @Test
    void idsAreUnique() {
        registry.add(device("serial0"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> registry.add(device("serial0")));
        assertTrue(e.getMessage().contains("serial0"));
    }

    @Test
    void onlyDevicesWithStateAreSavedAndTheListMustMatch() throws DeviceStateException {
        ResetControl rcr = new ResetControl(null);
        rcr.write(0, 1, ResetControl.SYS_RST);
        registry.add(device("isa-debug-exit@0xf4"));
        registry.add(MachineDevice.of("reset-control", rcr));
        List<DeviceRegistry.Saved> saved = registry.save();
        assertEquals(List.of("reset-control"), saved.stream().map(DeviceRegistry.Saved::id).toList());

        DeviceRegistry other = new DeviceRegistry(log::add);
        ResetControl copy = new ResetControl(null);
        other.add(MachineDevice.of("reset-control", copy));
        other.restore(saved);
        assertEquals(ResetControl.SYS_RST, copy.read(0, 1));

        DeviceRegistry bigger = new DeviceRegistry(log::add);
        bigger.add(MachineDevice.of("reset-control", new ResetControl(null)));
        bigger.add(MachineDevice.of("reset-control1", new ResetControl(null)));
        DeviceStateException e = assertThrows(DeviceStateException.class, () -> bigger.restore(saved));
        assertTrue(e.getMessage().contains("device 1 is nothing in the state but reset-control1 here"), e.getMessage());
    }
}
