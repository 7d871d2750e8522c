package org.jvisor.devices.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Save -> restore -> save on every device kind (as crosvm's suspendable tests do): each device is
 * driven into a non-trivial state through its registers, saved, and restored into a device freshly
 * built in a second world whose guest clock reads something else (a restore on another host);
 * saving that one gives an equal record, it holds the same IRQ levels, and when both are driven
 * further they answer the same register reads, send the same interrupts and end in equal states.
 */
class DeviceStateRoundTripTest {

    static Stream<DeviceKind<?>> kinds() {
        List<DeviceKind<?>> all = new ArrayList<>();
        all.addAll(PlatformKinds.all());
        all.addAll(PciKinds.all());
        all.addAll(VirtioKinds.all());
        return all.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    void aRestoredDeviceSavesTheSameStateAndBehavesAsTheOriginal(DeviceKind<?> kind) throws DeviceStateException {
        roundTrip(kind);
    }

    private static <D extends StatefulDevice<?>> void roundTrip(DeviceKind<D> kind) throws DeviceStateException {
        try (TestWorld saving = new TestWorld(1_000_000_000L); TestWorld restoring = new TestWorld(7_654_321_987L)) {
            D original = kind.build().apply(saving);
            DeviceState atPowerOn = original.saveState();
            kind.drive().accept(original, saving);
            DeviceState saved = original.saveState();
            assertNotEquals(atPowerOn, saved, "driving the registers changed nothing that is saved");
            // what a snapshot file carries: the record through the generic encoding and back
            saved = new StateDecoder(new StateEncoder().writeState(saved).toByteArray(), "test").readState();

            restoring.copyMemoryFrom(saving);
            D copy = kind.build().apply(restoring);
            copy.restoreAny(saved);
            assertEquals(saved, copy.saveState(), "save -> restore -> save");
            assertEquals(raised(saving), raised(restoring), "IRQ lines raised after the restore");

            saving.takeEvents();
            restoring.takeEvents();
            assertEquals(kind.probe().apply(original, saving), kind.probe().apply(copy, restoring),
                "what the guest reads when it drives both further");
            assertEquals(saving.takeEvents(), restoring.takeEvents(), "interrupts and messages sent meanwhile");
            assertEquals(raised(saving), raised(restoring), "IRQ lines raised at the end");
            assertEquals(original.saveState(), copy.saveState(), "the states at the end");
        }
    }

    private static List<String> raised(TestWorld world) {
        return world.levels().entrySet().stream().filter(Map.Entry::getValue).map(Map.Entry::getKey).toList();
    }
}
