package org.jvisor.devices.state;

import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * One kind of device in the round-trip test.
 *
 * @param name  what the test reports
 * @param build a device at power-on, wired to a world
 * @param drive puts it into a non-trivial state through its registers (and its host side)
 * @param probe drives it further and returns what the guest would read meanwhile
 */
record DeviceKind<D extends StatefulDevice<?>>(String name, Function<TestWorld, D> build, BiConsumer<D, TestWorld> drive,
                                               BiFunction<D, TestWorld, List<Object>> probe) {
    @Override
    public String toString() {
        return name;
    }
}
