package org.jvisor.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.jvisor.config.MachineConfig;
import org.jvisor.cpu.CpuFeature;
import org.jvisor.cpu.CpuModel;
import org.jvisor.cpu.GuestCpuid;

/**
 * -cpu MODEL[,FEATURE...] in QEMU 7.2's syntax (target/i386/cpu.c, x86_cpu_parse_featurestr):
 * FEATURE is {@code +flag}, {@code -flag}, {@code flag=on|off} (yes/no, true/false too) or a bare
 * {@code flag} (=on), for the CPUID flags {@code -cpu help} lists (QEMU's names and aliases) and
 * the properties enforce, check, migratable (max and host only, as QEMU), kvm, pmu and l3-cache.
 * What each does is {@link GuestCpuid}'s; here the names and values are checked, so a mistake is
 * an error before anything starts.
 */
final class CpuOptions {
    /** QEMU x86 CPU properties that are not flags and that jvisor's vCPUs do not have. */
    private static final Set<String> UNSUPPORTED = Set.of("vendor", "model-id", "family", "model", "stepping", "level",
        "xlevel", "xlevel2", "min-level", "min-xlevel", "tsc-frequency", "tsc-freq", "phys-bits", "host-phys-bits",
        "host-phys-bits-limit", "host-cache-info", "legacy-cache", "lmce", "ucode-rev", "full-cpuid-auto-level",
        "cpuid-0xb", "fill-mtrr-mask", "vmware-cpuid-freq", "kvm-no-smi-migration", "kvm-pv-enforce-cpuid",
        "tcg-cpuid", "intel-pt-auto-level", "apic-id", "core-id", "socket-id", "thread-id", "die-id");

    private CpuOptions() {
    }

    /** Whether {@code value} asks for the list of models and flags (QEMU's is_help_option). */
    static boolean isHelp(String value) {
        return value.equals("help") || value.equals("?");
    }

    static MachineConfig.CpuConfig parse(String value) throws UsageException {
        String[] parts = value.split(",", -1);
        CpuModel model = CpuModel.named(parts[0]);
        if (model == null) {
            throw new UsageException("-cpu: '" + parts[0] + "' is not a CPU model jvisor has (" + String.join(", ",
                modelNames()) + "; -cpu help lists them)");
        }
        List<MachineConfig.CpuConfig.Setting> settings = new ArrayList<>();
        for (int k = 1; k < parts.length; k++) {
            String item = parts[k];
            if (item.isEmpty()) {
                continue;   // "qemu64," : QEMU skips empty items too
            }
            settings.add(setting(model, item));
        }
        return new MachineConfig.CpuConfig(model.qemuName(), settings);
    }

    private static MachineConfig.CpuConfig.Setting setting(CpuModel model, String item) throws UsageException {
        String where = "-cpu " + model.qemuName() + "," + item;
        boolean plusMinus = item.startsWith("+") || item.startsWith("-");
        int eq = item.indexOf('=');
        String name = plusMinus ? item.substring(1) : eq < 0 ? item : item.substring(0, eq);
        // QEMU turns '_' into '-' in property names (feat2prop); the aliases keep some underscores
        String property = name.replace('_', '-');
        String canonical;
        if (property.startsWith("hv-")) {
            throw new UsageException(where + ": jvisor has no Hyper-V enlightenments (hv-* properties); "
                + "a libvirt domain with <hyperv> needs it removed");
        } else if (GuestCpuid.PROPERTIES.contains(property)) {
            if (property.equals("migratable") && !model.hasMigratable()) {
                throw notFound(where, model, name);
            }
            canonical = property;
        } else if (!CpuFeature.named(name).isEmpty()) {
            canonical = CpuFeature.named(name).getFirst().qemuName();
        } else if (UNSUPPORTED.contains(property)) {
            throw new UsageException(where + ": QEMU's CPU property '" + property + "' is not one jvisor's vCPUs have "
                + "(they take the CPUID flags -cpu help lists and "
                + String.join(", ", GuestCpuid.PROPERTIES.stream().sorted().toList()) + ")");
        } else {
            throw notFound(where, model, name);
        }
        boolean on = plusMinus ? item.charAt(0) == '+' : CommandLine.onOff("-cpu", name, eq < 0 ? null : item.substring(eq + 1));
        return new MachineConfig.CpuConfig.Setting(canonical, on, plusMinus);
    }

    /** QEMU's words for a name that is neither a flag nor a property of the model. */
    private static UsageException notFound(String where, CpuModel model, String name) {
        return new UsageException(where + ": Property '" + model.typeName() + "." + name + "' not found (-cpu help lists the CPUID flags)");
    }

    private static List<String> modelNames() {
        List<String> names = new ArrayList<>();
        for (CpuModel m : CpuModel.values()) {
            names.add(m.qemuName());
        }
        return names.stream().sorted().toList();
    }

    /**
     * {@code -cpu help}: the models and the flag names, in QEMU's layout ("Available CPUs:",
     * then "Recognized CPUID flags:"), with what jvisor's models are.
     */
    static String help() {
        StringBuilder sb = new StringBuilder("Available CPUs:\n");
        for (String name : modelNames()) {
            CpuModel m = CpuModel.named(name);
            sb.append(String.format("x86 %-20s  %s%n", name, m.description()));   // QEMU's layout
        }
        sb.append("""

            jvisor's models start from what the engine offers: tcg, the features its interpreter
            implements; kvm, KVM's supported CPUID. qemu64 and max are that set (max with x2APIC on
            tcg), host is it on kvm only, base has every flag below off. A flag the engine cannot
            offer stays off, with a warning (an error with enforce); a flag turned off is hidden from
            the guest, which is trusted to respect CPUID (the engine does not fault on its use).
            Properties: enforce, check=on|off, migratable=on|off (max, host), kvm=off (no KVM
            signature leaves), pmu=off (no CPUID leaf 0Ah), l3-cache=off (no level-3 cache leaves).

            Recognized CPUID flags:
            """);
        StringBuilder line = new StringBuilder(" ");
        for (String f : CpuFeature.names()) {
            if (line.length() + 1 + f.length() > 76) {
                sb.append(line).append('\n');
                line = new StringBuilder(" ");
            }
            line.append(' ').append(f);
        }
        sb.append(line).append('\n');
        return sb.toString();
    }
}
