package org.jvisor.devices;

/**
 * What a platform device may ask of the machine: end jvisor with a status (isa-debug-exit),
 * reset (i8042 reset line, ACPI reset) or power off (ACPI PM1 sleep). Calls return at once; the
 * machine stops its vCPUs on its own thread.
 */
public interface PlatformControl {

    void exit(int status, String reason);

    void reset(String reason);

    void powerOff(String reason);
}
