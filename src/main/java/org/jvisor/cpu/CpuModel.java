package org.jvisor.cpu;

/**
 * The vCPU models {@code -cpu} names. jvisor has no table of real processors: each model is a
 * starting set of flags taken from what the engine offers ({@link Accelerator#offeredCpuid()}),
 * which {@code -cpu}'s feature list then edits ({@link GuestCpuid}).
 */
public enum CpuModel {
    /**
     * Everything the engine offers, without x2APIC on tcg. Unlike QEMU's qemu64, which is a fixed,
     * old flag list (no SSSE3, POPCNT...), jvisor's is the engine's own set: what tcg's
     * interpreter implements, or KVM's supported CPUID. It is the default, and what libvirt
     * passes for a domain without {@code <cpu>}.
     */
    QEMU64("qemu64", "jvisor's default: the engine's feature set (not QEMU's qemu64 list)", true, false),
    /** Everything the engine offers (with x2APIC on tcg), as QEMU's max. */
    MAX("max", "Enables all features supported by the accelerator in the current host", false, false),
    /** KVM's supported CPUID: on kvm what max is; QEMU 7.2 refuses it without KVM (or HVF), and so does jvisor. */
    HOST("host", "processor with all supported host features (kvm only)", false, true),
    /** No flag at all (the engine's leaves with every {@link CpuFeature} clear), for a list of +flags to build on. */
    BASE("base", "base CPU model type with no features enabled", true, false);

    private final String qemuName;
    private final String description;
    private final boolean migrationSafe;
    private final boolean kvmOnly;

    CpuModel(String qemuName, String description, boolean migrationSafe, boolean kvmOnly) {
        this.qemuName = qemuName;
        this.description = description;
        this.migrationSafe = migrationSafe;
        this.kvmOnly = kvmOnly;
    }

    public String qemuName() {
        return qemuName;
    }

    /** Its line in {@code -cpu help}. */
    public String description() {
        return description;
    }

    /** QEMU's QOM type of a vCPU of this model: "qemu64-x86_64-cpu". */
    public String typeName() {
        return qemuName + "-x86_64-cpu";
    }

    /**
     * query-cpu-definitions' migration-safe, as QEMU 7.2 answers: max and host are not (they
     * follow the host), qemu64 and base are.
     */
    public boolean migrationSafe() {
        return migrationSafe;
    }

    /** query-cpu-definitions' static: only base (QEMU's one static model among these). */
    public boolean isStatic() {
        return this == BASE;
    }

    /** Whether only the kvm engine has it. */
    public boolean kvmOnly() {
        return kvmOnly;
    }

    /**
     * Whether QEMU's "migratable" property exists on it: only max and its child host (QEMU 7.2
     * answers "Property 'qemu64-x86_64-cpu.migratable' not found" on the others).
     */
    public boolean hasMigratable() {
        return this == MAX || this == HOST;
    }

    /** The model called {@code name}, or null. */
    public static CpuModel named(String name) {
        for (CpuModel m : values()) {
            if (m.qemuName.equals(name)) {
                return m;
            }
        }
        return null;
    }
}
