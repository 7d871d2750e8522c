package org.jvisor.machine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.jvisor.cpu.Accelerator;
import org.jvisor.config.JitOptions;
import org.jvisor.tcg.UnitLibrary;
import org.jvisor.cpu.MachineBus;
import org.jvisor.kvm.KvmUnavailableException;
import org.jvisor.kvm.KvmVm;
import org.jvisor.config.MachineConfig;

/**
 * Picks the CPU engine. {@code -accel auto} prefers kvm only on bare metal: a host that is itself a
 * guest (CPUID hypervisor flag in /proc/cpuinfo) offers a nested KVM that, on the hosts we know,
 * emulates guest code instruction by instruction and is slower than tcg (see design.md, Facts).
 */
final class AcceleratorChoice {
    private AcceleratorChoice() {
    }

    record Chosen(Accelerator accelerator, String explanation) {
    }

    static Chosen open(MachineConfig.Accel accel, MachineBus bus, int cpus, JitOptions jit, UnitLibrary translations)
            throws MachineException {
        return switch (accel) {
            case KVM -> new Chosen(openKvm(bus, cpus), "kvm (requested)");
            case TCG -> new Chosen(TcgEngine.open(bus, jit, translations), "tcg (requested)");
            case AUTO -> auto(bus, cpus, jit, translations);
        };
    }

    private static Chosen auto(MachineBus bus, int cpus, JitOptions jit, UnitLibrary translations) throws MachineException {
        if (!Files.exists(Path.of("/dev/kvm"))) {
            return new Chosen(TcgEngine.open(bus, jit, translations), "-accel auto: tcg, because this host has no /dev/kvm");
        }
        if (hostIsVirtualMachine()) {
            return new Chosen(TcgEngine.open(bus, jit, translations),
                "-accel auto: tcg, because this host is itself a virtual machine and its nested KVM is slower than tcg");
        }
        try {
            return new Chosen(KvmVm.create(bus, cpus), "-accel auto: kvm, hardware virtualization on bare metal");
        } catch (KvmUnavailableException e) {
            return new Chosen(TcgEngine.open(bus, jit, translations), "-accel auto: tcg, because " + e.getMessage());
        }
    }

    private static Accelerator openKvm(MachineBus bus, int cpus) throws MachineException {
        try {
            return KvmVm.create(bus, cpus);
        } catch (KvmUnavailableException e) {
            throw new MachineException("cannot use -accel kvm: " + e.getMessage() + "; try -accel tcg");
        } catch (RuntimeException e) {
            throw new MachineException("cannot set up the KVM virtual machine: " + e.getMessage() + "; try -accel tcg");
        }
    }

    static boolean hostIsVirtualMachine() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    return (" " + line + " ").contains(" hypervisor ");
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }
}
