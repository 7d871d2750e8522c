package org.jvisor.devices.acpi;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.devices.PlatformControl;

/** Records what a device asked of the machine. */
final class RecordingControl implements PlatformControl {
    final List<String> calls = new ArrayList<>();

    @Override
    public void exit(int status, String reason) {
        calls.add("exit " + status);
    }

    @Override
    public void reset(String reason) {
        calls.add("reset");
    }

    @Override
    public void powerOff(String reason) {
        calls.add("powerOff");
    }
}
