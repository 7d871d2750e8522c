package org.jvisor.cli;

import java.util.Set;
import java.util.UUID;

import org.jvisor.config.MachineConfig;

/**
 * QEMU options that management tools (libvirt) always pass and that describe what jvisor already
 * is, checked and then kept only where something reads them: -no-user-config and -nodefaults
 * (jvisor reads no configuration file and, with -nodefaults, adds no default serial port), -uuid,
 * -msg (timestamps on jvisor's messages), -overcommit, -rtc, -global, -audiodev, -cpu (CpuOptions; -boot
 * is the firmware's: CommandLine.parseBoot). A value QEMU would act on differently
 * from jvisor is an error, never silently dropped.
 */
final class CompatOptions {
    /** -global DRIVER.PROP=VALUE that jvisor's devices already behave as, or act on. */
    private static final Set<String> GLOBALS = Set.of("kvm-pit.lost_tick_policy", "PIIX4_PM.disable_s3", "PIIX4_PM.disable_s4",
        "ICH9-LPC.disable_s3", "ICH9-LPC.disable_s4", CompatOptions.ACPI_PCIE_HOTPLUG);
    /** q35's switch between ACPI (on, QEMU 7.2's default) and native hot-plug of the pcie-root-ports. */
    static final String ACPI_PCIE_HOTPLUG = "ICH9-LPC.acpi-pci-hotplug-with-bridge-support";

    private boolean noDefaults;
    private boolean timestamps;
    private MachineConfig.CpuConfig cpu = MachineConfig.CpuConfig.DEFAULT;
    private UUID uuid;
    private boolean acpiPcieHotplug = true;

    /** Handles {@code opt} (with its value from {@code args[i + 1]} when it takes one); returns how many arguments it used, 0 if not its. */
    int handle(String opt, String[] args, int i) throws UsageException {
        switch (opt) {
            case "-no-user-config" -> {
                return 1;                       // jvisor has no configuration files to skip
            }
            case "-nodefaults" -> {
                noDefaults = true;
                return 1;
            }
            case "-uuid" -> uuid = parseUuid(value(args, i, opt, "a UUID"));
            case "-msg" -> {
                OptionList o = OptionList.parse(opt, value(args, i, opt, "timestamp=on|off"), false);
                o.allowOnly(Set.of("timestamp", "guest-name"), "");
                timestamps = onOff(o, "timestamp");
                if (onOff(o, "guest-name")) {
                    throw new UsageException("-msg: guest-name=on is not supported (jvisor's messages start with 'jvisor:')");
                }
            }
            case "-overcommit" -> {
                OptionList o = OptionList.parse(opt, value(args, i, opt, "mem-lock=off"), false);
                o.allowOnly(Set.of("mem-lock", "cpu-pm"), "");
                if (onOff(o, "mem-lock")) {
                    throw new UsageException("-overcommit: mem-lock=on is not supported (jvisor does not mlock guest RAM)");
                }
                if (onOff(o, "cpu-pm")) {
                    throw new UsageException("-overcommit: cpu-pm=on is not supported (HLT always exits to jvisor)");
                }
            }
            case "-rtc" -> {
                OptionList o = OptionList.parse(opt, value(args, i, opt, "base=utc"), false);
                o.allowOnly(Set.of("base", "clock", "driftfix"), "");
                String base = o.get("base");
                if (base != null && !base.equals("utc")) {
                    throw new UsageException("-rtc: base=" + base + " is not supported (jvisor's RTC keeps UTC: base=utc)");
                }
                String clock = o.get("clock");
                if (clock != null && !clock.equals("host")) {
                    throw new UsageException("-rtc: clock=" + clock + " is not supported (jvisor's RTC follows the host clock: clock=host)");
                }
                String drift = o.get("driftfix");
                if (drift != null && !drift.equals("none") && !drift.equals("slew")) {
                    throw new UsageException("-rtc: driftfix=" + drift + " (expected none or slew)");
                }
            }
            case "-global" -> {
                String v = value(args, i, opt, "DRIVER.PROP=VALUE");
                int eq = v.indexOf('=');
                String key = eq < 0 ? v : v.substring(0, eq);
                if (eq < 0 || !GLOBALS.contains(key)) {
                    throw new UsageException("-global: '" + v + "' is not a device property jvisor has (known: "
                        + String.join(", ", GLOBALS.stream().sorted().toList()) + ")");
                }
                if (key.equals(ACPI_PCIE_HOTPLUG)) {
                    // QEMU's bool property parser: on/off, yes/no, true/false
                    acpiPcieHotplug = CommandLine.onOff("-global", key, v.substring(eq + 1));
                }
                // libvirt's <pm><suspend-to-mem|disk enabled='no'/></pm>: jvisor's DSDT has \_S5 only,
                // so S3 and S4 are off already; asking for them (0) cannot be honoured
                if (key.endsWith(".disable_s3") || key.endsWith(".disable_s4")) {
                    String val = v.substring(eq + 1);
                    if (!val.equals("1")) {
                        throw new UsageException("-global " + v + ": jvisor's ACPI has no S" + key.charAt(key.length() - 1)
                            + " sleep state (only disable_s3=1 and disable_s4=1)");
                    }
                }
            }
            case "-audiodev" -> {
                String v = value(args, i, opt, "none,id=ID");
                OptionList o = JsonOptions.isJson(v) ? JsonOptions.parse(opt, v, "driver") : OptionList.parse(opt, v, true);
                String driver = o.implied() != null ? o.implied() : o.get("driver");
                if (!"none".equals(driver)) {
                    throw new UsageException("-audiodev: driver '" + driver + "' is not supported (jvisor has no sound device: none)");
                }
                o.allowOnly(Set.of("id", "driver", "timer-period"), "none");
                if (o.get("id") == null) {
                    throw new UsageException("-audiodev: id=ID is required");
                }
            }
            case "-cpu" -> cpu = CpuOptions.parse(value(args, i, opt, "a CPU model (qemu64, max, host, base; -cpu help)"));
            default -> {
                return 0;
            }
        }
        return 2;
    }

    /** -cpu's model and its flags and properties. */
    MachineConfig.CpuConfig cpu() {
        return cpu;
    }

    /**
     * -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support: q35's pcie-root-ports hot-plug through
     * ACPI (true, QEMU 7.2's default) or natively. (A pc machine has no ICH9-LPC; QEMU ignores it there.)
     */
    boolean acpiPcieHotplug() {
        return acpiPcieHotplug;
    }

    /** -nodefaults: no serial port unless one is asked for. */
    boolean noDefaults() {
        return noDefaults;
    }

    /** -msg timestamp=on: jvisor's messages start with the time. */
    boolean timestamps() {
        return timestamps;
    }

    /** -uuid, or null. */
    UUID uuid() {
        return uuid;
    }

    private static UUID parseUuid(String text) throws UsageException {
        if (!text.matches("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
            throw new UsageException("-uuid: '" + text + "' is not a UUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
        }
        return UUID.fromString(text);
    }

    private static boolean onOff(OptionList o, String key) throws UsageException {
        return o.get(key) != null && CommandLine.onOff(o.option(), key, o.get(key));
    }

    private static String value(String[] args, int i, String opt, String expected) throws UsageException {
        if (i + 1 >= args.length) {
            throw new UsageException(opt + " needs an argument: " + expected);
        }
        return args[i + 1];
    }
}
