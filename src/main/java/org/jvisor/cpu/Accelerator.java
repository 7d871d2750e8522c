package org.jvisor.cpu;

import java.util.List;
import java.util.Optional;

import org.jvisor.devices.state.StatefulDevice;

import org.jvisor.memory.Doorbells;
import org.jvisor.memory.IrqLine;
import org.jvisor.memory.MsiIrqfds;

/**
 * A CPU engine bound to one VM: kvm (hardware) or tcg (software). It owns the interrupt
 * controller of that engine and creates the vCPUs; the machine knows nothing else about it.
 */
public interface Accelerator extends AutoCloseable {

    /** "kvm" or "tcg", as on the command line. */
    String name();

    Vcpu createVcpu(int index, ExitStats stats);

    /**
     * Whether the engine brings the PC's interrupt controllers and PIT itself (KVM's in-kernel
     * irqchip). Otherwise the machine builds them as device models and wires them to the vCPUs.
     */
    default boolean providesInterruptControllers() {
        return false;
    }

    /** The interrupt wire for global system interrupt {@code gsi} (0-23 on the IOAPIC). */
    IrqLine irqLine(int gsi);

    /**
     * Delivers a message-signalled interrupt (an MSI/MSI-X write to 0xFEExxxxx) through the
     * engine's interrupt controller; only engines that {@link #providesInterruptControllers()}.
     */
    default void signalMsi(long address, int data) {
        throw new IllegalStateException(name() + " has no in-engine interrupt controller for MSIs");
    }

    /**
     * Doorbells on guest memory addresses that signal the VMM without a vCPU exit (kvm's
     * ioeventfd), or empty when every guest access reaches the address space anyway (tcg).
     */
    default Optional<Doorbells> doorbells() {
        return Optional.empty();
    }

    /**
     * MSIs that an eventfd raises in the kernel (kvm's irqfd), or empty when the VMM's own
     * interrupt controllers take every message (tcg).
     */
    default Optional<MsiIrqfds> msiIrqfds() {
        return Optional.empty();
    }

    /**
     * Every CPUID leaf and flag this engine can give its vCPUs (tcg: what its interpreter
     * implements; kvm: KVM's supported list), before -cpu's choice ({@link GuestCpuid}).
     */
    CpuidModel offeredCpuid();

    /**
     * The CPUID leaves this engine presents to the guest, and a restored vCPU state is checked
     * against: what {@link #presentCpuid} set, the offer until then.
     */
    CpuidModel cpuid();

    /** The CPUID the vCPUs created from now on present: the offer as -cpu edited it ({@link GuestCpuid}). */
    void presentCpuid(CpuidModel guest);

    /**
     * Forgets every mapping through which a vCPU writes guest RAM without marking the
     * {@link org.jvisor.memory.DirtyLog} (called with the vCPUs stopped, at each round of a live
     * migration). Engines that cannot log dirty pages say so through {@link #logsDirtyPages()}.
     */
    default void dropWriteMappings() {
    }

    /**
     * Whether the engine's stores reach guest RAM's {@link org.jvisor.memory.DirtyLog}: tcg's mark
     * it, kvm's are recorded by KVM and merged in (a {@link org.jvisor.memory.DirtyLog.Tracker}).
     */
    default boolean logsDirtyPages() {
        return false;
    }

    /**
     * State the engine itself holds for a snapshot, as device records in this fixed order (kvm's
     * in-kernel PIC, IOAPIC, PIT, kvmclock and each vCPU's KVM-only state); the machine puts them
     * first in its device registry, so a restore puts them back before the devices and vCPUs.
     * None on tcg, whose controllers are jvisor's own devices.
     *
     * @param vcpus how many vCPUs the machine creates (none with -M none)
     */
    default List<EngineState> engineState(int vcpus) {
        return List.of();
    }

    /** One such record holder: its id in the snapshot's DEVS section and the state. */
    record EngineState(String id, StatefulDevice<?> state) {
    }

    @Override
    void close();
}
