package org.jvisor.cli;

import java.util.Set;

import org.jvisor.config.MachineConfig;

/**
 * -machine TYPE[,prop=value...]: the machine type under QEMU's names and the properties libvirt
 * gives it. Versioned names are accepted for the machine jvisor has that they describe:
 * pc-i440fx-7.2 (pc is its alias, as in QEMU 7.2), pc-q35-7.2 (q35). "none" is QEMU's machine
 * without a guest.
 */
final class MachineOptions {
    /** The versioned name of jvisor's pc machine, as QEMU 7.2 calls its current i440FX machine. */
    static final String PC_VERSIONED = "pc-i440fx-7.2";
    /** The versioned name of jvisor's q35 machine, as QEMU 7.2 calls its current Q35 machine. */
    static final String Q35_VERSIONED = "pc-q35-7.2";

    /**
     * What -machine says: the machine type, where a bzImage's payload is decompressed, the
     * accelerator of accel= (null: not given), the memory-backend= object (null: none) and
     * whether guest RAM may be merged with identical host pages (mem-merge=) and whether a Linux
     * kernel gets an RNG seed (rng-seed=).
     */
    record Spec(MachineConfig.MachineType type, boolean decompressOnHost, MachineConfig.Accel accel, String memoryBackend,
                boolean memMerge, boolean rngSeed) {
        static final Spec DEFAULT = new Spec(MachineConfig.MachineType.PC, true, null, null, true, true);
    }

    private MachineOptions() {
    }

    /**
     * -machine TYPE[,kernel-decompress=host|guest][,accel=A[:B]][,usb=off][,dump-guest-core=on|off]
     * [,memory-backend=ID][,mem-merge=on|off][,rng-seed=on|off][,hpet=off][,smm=off][,vmport=off]. kernel-decompress picks where a bzImage's payload is decompressed: on
     * the host (default, jvisor's fast path) or by the kernel's own decompressor, as QEMU does.
     */
    static Spec parse(String text) throws UsageException {
        return parse(text, Spec.DEFAULT);
    }

    /**
     * A machine part jvisor does not have, which QEMU's pc and q35 may: off (and auto, for an
     * OnOffAuto property, which is then off) says what jvisor does anyway, as libvirt writes them
     * ({@code <timer name='hpet' present='no'/>}, {@code <smm state='off'/>}, {@code <vmport state='off'/>});
     * on is refused rather than ignored.
     */
    private static void absentPart(OptionList o, String key, String what, boolean onOffAuto) throws UsageException {
        String v = o.get(key);
        if (v == null || onOffAuto && v.equals("auto")) {
            return;
        }
        if (CommandLine.onOff("-machine", key, v)) {
            throw new UsageException("-machine " + key + "=on: jvisor's machines have no " + what);
        }
    }

    /**
     * As {@link #parse(String)}, on top of an earlier -machine: what this one does not give keeps
     * its earlier value, as QEMU merges its -machine options ({@code -M pc -machine memory-backend=m}).
     */
    static Spec parse(String text, Spec before) throws UsageException {
        OptionList o = OptionList.parse("-machine", text, true);
        o.allowOnly(Set.of("type", "kernel-decompress", "accel", "usb", "dump-guest-core", "memory-backend", "mem-merge",
            "rng-seed", "hpet", "smm", "vmport"), "");
        String typeName = o.implied() != null ? o.implied() : o.get("type");
        MachineConfig.MachineType type = typeName == null ? before.type() : switch (typeName) {
            case "pc", PC_VERSIONED -> MachineConfig.MachineType.PC;
            case "q35", Q35_VERSIONED -> MachineConfig.MachineType.Q35;
            case "microvm" -> MachineConfig.MachineType.MICROVM;
            case "none" -> MachineConfig.MachineType.NONE;
            case "help", "?" -> throw new UsageException("-machine: machine types: pc (alias of " + PC_VERSIONED
                + "), " + PC_VERSIONED + ", q35 (alias of " + Q35_VERSIONED + "), " + Q35_VERSIONED + ", microvm, none");
            default -> throw new UsageException("-machine: '" + typeName + "' is not a machine type jvisor has "
                + "(known: pc, " + PC_VERSIONED + ", q35, " + Q35_VERSIONED + ", microvm, none)");
        };
        if (o.get("usb") != null && CommandLine.onOff("-machine", "usb", o.get("usb"))) {
            throw new UsageException("-machine: usb=on: jvisor has no USB controller");
        }
        absentPart(o, "hpet", "HPET", false);
        absentPart(o, "smm", "System Management Mode", true);
        absentPart(o, "vmport", "VMware I/O port", true);
        if (o.get("dump-guest-core") != null) {
            // whether guest RAM goes into a core dump of the VMM: a host setting that changes nothing
            // the guest or a monitor sees; jvisor leaves the mapping as the kernel made it
            CommandLine.onOff("-machine", "dump-guest-core", o.get("dump-guest-core"));
        }
        String memoryBackend = o.get("memory-backend") == null ? before.memoryBackend() : o.get("memory-backend");
        if (memoryBackend != null && memoryBackend.isEmpty()) {
            throw new UsageException("-machine: memory-backend= needs the id of a -object memory-backend-ram");
        }
        MachineConfig.Accel accel = o.get("accel") == null ? before.accel() : accelList("-machine accel", o.get("accel"));
        String where = o.get("kernel-decompress");
        boolean onHost;
        if (where == null) {
            onHost = before.decompressOnHost();
        } else if (where.equals("host")) {
            onHost = true;
        } else if (where.equals("guest")) {
            onHost = false;
        } else {
            throw new UsageException("-machine: kernel-decompress='" + where + "' (expected host or guest)");
        }
        boolean memMerge = o.get("mem-merge") == null ? before.memMerge()
            : CommandLine.onOff("-machine", "mem-merge", o.get("mem-merge"));
        boolean rngSeed = o.get("rng-seed") == null ? before.rngSeed()
            : CommandLine.onOff("-machine", "rng-seed", o.get("rng-seed"));
        return new Spec(type, onHost, accel, memoryBackend, memMerge, rngSeed);
    }

    /**
     * QEMU's accelerator list "kvm:tcg" (the first that works): one name is that accelerator; a
     * list of kvm and tcg is jvisor's auto, which chooses between them by what the host is.
     */
    static MachineConfig.Accel accelList(String option, String text) throws UsageException {
        String[] names = text.split(":", -1);
        for (String n : names) {
            if (!n.equals("kvm") && !n.equals("tcg")) {
                throw new UsageException(option + ": '" + n + "' is not an accelerator jvisor has (kvm, tcg)");
            }
        }
        if (names.length == 1) {
            return names[0].equals("kvm") ? MachineConfig.Accel.KVM : MachineConfig.Accel.TCG;
        }
        return Set.of(names).size() == 1
            ? (names[0].equals("kvm") ? MachineConfig.Accel.KVM : MachineConfig.Accel.TCG)
            : MachineConfig.Accel.AUTO;
    }
}
