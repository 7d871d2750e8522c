package org.jvisor.machine;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * Every device of a machine, in one ordered list: start, reset, save and restore are loops over
 * it in registration order, close is one in the reverse order (a device goes before what it was
 * built on, as a stack unwinds).
 *
 * <p>The order is the machine's build order: the interrupt controllers first (PIC, IOAPIC, then
 * the local APICs they feed), then the platform devices, PCI, the serial port, virtio. That is
 * the reset order jvisor always had, and it is the right restore order too: a controller restored
 * first already holds the saved input pin levels, so when a device restored after it drives its
 * line to the level it computes, the controller sees no edge and raises nothing twice; and an
 * interrupt a device raises at once after its restore (a timer already due) lands in a restored
 * controller, not in one about to be overwritten.
 */
final class DeviceRegistry {
    /** One saved device: its id and its state. */
    record Saved(String id, DeviceState state) {
    }

    private final List<MachineDevice> devices = new ArrayList<>();
    private final Set<String> ids = new HashSet<>();
    private final Consumer<String> log;

    /** @param log where close problems go (the loop goes on past them) */
    DeviceRegistry(Consumer<String> log) {
        this.log = log;
    }

    /** Appends a device; ids are unique. */
    synchronized void add(MachineDevice device) {
        if (!ids.add(device.id())) {
            throw new IllegalArgumentException("two devices with id " + device.id());
        }
        devices.add(device);
    }

    /** How many devices there are: a mark for {@link #since}. */
    synchronized int size() {
        return devices.size();
    }

    /** The devices added after {@code mark} ({@link #size()} then), in order: one hot-plugged device's entries. */
    synchronized List<MachineDevice> since(int mark) {
        return List.copyOf(devices.subList(mark, devices.size()));
    }

    /**
     * Takes {@code group} out (a device unplugged) and closes it, last added first, as
     * {@link #close()} does; the rest of the machine stays.
     */
    void remove(List<MachineDevice> group) {
        synchronized (this) {
            devices.removeAll(group);
            group.forEach(d -> ids.remove(d.id()));
        }
        for (int i = group.size() - 1; i >= 0; i--) {
            MachineDevice d = group.get(i);
            try {
                d.close().close();
            } catch (IOException | RuntimeException e) {
                log.accept("closing " + d.id() + ": " + e.getMessage());
            }
        }
    }

    /** The device with {@code id}, if there is one. */
    synchronized java.util.Optional<MachineDevice> byId(String id) {
        return ids.contains(id) ? devices.stream().filter(d -> d.id().equals(id)).findFirst() : java.util.Optional.empty();
    }

    synchronized List<MachineDevice> devices() {
        return List.copyOf(devices);
    }

    /** The ids, in order. */
    List<String> ids() {
        return devices().stream().map(MachineDevice::id).toList();
    }

    /** Starts every device (host input begins to flow). */
    void start() {
        for (MachineDevice d : devices()) {
            d.start().run();
        }
    }

    /** A system reset of every device; call with every vCPU paused. */
    void reset() {
        for (MachineDevice d : devices()) {
            d.reset().run();
        }
    }

    /** Closes every device, last added first; an error is logged with the device's id and the rest still close. */
    void close() {
        List<MachineDevice> all = devices();
        for (int i = all.size() - 1; i >= 0; i--) {
            MachineDevice d = all.get(i);
            try {
                d.close().close();
            } catch (IOException | RuntimeException e) {
                log.accept("closing " + d.id() + ": " + e.getMessage());
            }
        }
    }

    /** The state of every device that has one, in order; call with the guest paused and device I/O idle. */
    List<Saved> save() {
        List<Saved> saved = new ArrayList<>();
        for (MachineDevice d : devices()) {
            if (d.state() != null) {
                saved.add(new Saved(d.id(), d.state().saveState()));
            }
        }
        return saved;
    }

    /**
     * Restores every device from {@code saved}, which must list this machine's devices with state
     * (the same configuration); a refusal names the device. Each is restored in this machine's
     * order (controllers first, as above) from the state saved under its id: a device hot-plugged
     * on the machine that saved sits at the end of its list, while the restoring machine has it
     * from its command line, where the user or libvirt put it.
     */
    void restore(List<Saved> saved) throws DeviceStateException {
        List<MachineDevice> stateful = devices().stream().filter(d -> d.state() != null).toList();
        java.util.Map<String, DeviceState> byId = new java.util.HashMap<>();
        saved.forEach(s -> byId.put(s.id(), s.state()));
        boolean sameDevices = saved.size() == stateful.size() && byId.size() == saved.size()
            && stateful.stream().allMatch(d -> byId.containsKey(d.id()));
        for (int i = 0; !sameDevices && i < Math.max(stateful.size(), saved.size()); i++) {
            String here = i < stateful.size() ? stateful.get(i).id() : "nothing";
            String there = i < saved.size() ? saved.get(i).id() : "nothing";
            if (!here.equals(there)) {
                throw new DeviceStateException(String.format(
                    "the saved devices differ from this machine's: device %d is %s in the state but %s here", i, there, here));
            }
        }
        for (MachineDevice d : stateful) {
            try {
                d.state().restoreAny(byId.get(d.id()));
            } catch (DeviceStateException e) {
                throw new DeviceStateException(d.id() + ": " + e.getMessage(), e);
            }
        }
    }
}
