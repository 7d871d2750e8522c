package org.jvisor.devices.virtio;

import java.util.function.Consumer;

import org.jvisor.devices.pci.AtsCapability;
import org.jvisor.devices.pci.MsixCapability;
import org.jvisor.devices.pci.PciBarRegion;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.pci.PciVendorCapability;
import org.jvisor.devices.pci.PcieCapability;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.Doorbells;
import org.jvisor.memory.MsiIrqfds;

/**
 * A virtio device as a PCI function (virtio 1.2, 4.1): the modern virtio-pci transport in a
 * 64-bit memory BAR (4), its vendor capabilities in config space, and an MSI-X table with one
 * vector per queue plus one for configuration changes in BAR 1; INTA when MSI-X is off.
 */
public final class VirtioPciFunction extends PciDevice {
    private static final int TRANSPORT_BAR = 4;
    private static final int MSIX_BAR = 1;
    /** A driver notifies with a 16-bit write of the queue index (virtio 1.2, 4.1.5.2). */
    private static final int NOTIFY_WIDTH = 2;

    private final VirtioPciTransport transport;
    private final QueueDoorbells queueDoorbells;
    private final QueueIrqfds queueIrqfds;
    private final MsixCapability msix;
    private volatile Doorbells doorbells;

    public VirtioPciFunction(VirtioDevice device, DmaSpace dma) {
        this(device, dma, msg -> System.err.println("jvisor: " + msg));
    }

    /** As the other constructor, with the device's guest errors going to {@code log}. */
    public VirtioPciFunction(VirtioDevice device, DmaSpace dma, Consumer<String> log) {
        super(VirtioPciTransport.PCI_VENDOR_ID, 0x1040 + device.deviceType(), VirtioPciTransport.classCodeFor(device.deviceType()),
            VirtioPciTransport.PCI_REVISION);
        MsixCapability msix = new MsixCapability(device.queueCount() + 1, MSIX_BAR, 0);
        this.msix = msix;
        MsixVectors vectors = new MsixVectors() {
            @Override
            public void notify(int vector) {
                msix.notify(vector);
            }

            @Override
            public boolean enabled() {
                return msix.isEnabled();
            }
        };
        this.transport = new VirtioPciTransport(device, dma, TRANSPORT_BAR, vectors, intx(), log);
        setSubsystem(transport.subsystemVendorId(), transport.subsystemId());
        setInterruptPin(1);
        for (VirtioPciCapability cap : transport.capabilities()) {
            addCapability(PciVendorCapability.fromBytes(cap.bytes()));
        }
        addCapability(msix);
        setBar(MSIX_BAR, PciBarRegion.memory32("virtio-msix", msix.minimumBarSize(), false, msix.barDevice()));
        setBar(TRANSPORT_BAR, PciBarRegion.memory64("virtio", VirtioPciTransport.BAR_SIZE, true, transport.bar()));
        this.queueDoorbells = new QueueDoorbells(transport.core(), msg -> System.err.println("jvisor: " + msg));
        this.queueIrqfds = new QueueIrqfds(transport.core(), msix, this::busMasterEnabled,
            msg -> System.err.println("jvisor: " + msg));
    }

    /**
     * Used-buffer interrupts in the kernel (kvm's irqfd) for a device whose queues another
     * process serves: each queue's call eventfd is bound to its MSI-X vector's message while the
     * guest lets that vector send, and read by the device otherwise ({@link QueueIrqfds}). Does
     * nothing for devices that raise their interrupts themselves.
     */
    public void useIrqfds(MsiIrqfds irqfds) {
        if (transport.core().device().queueCallDescriptor(0) < 0) {
            return;
        }
        msix.onChange(queueIrqfds::update);
        transport.onVectorsChanged(queueIrqfds::update);
        queueIrqfds.use(irqfds);
    }

    /** Unbinds the call eventfds (before the device closes them); the device relays from then on. */
    public void releaseIrqfds() {
        queueIrqfds.close();
    }

    /** Queues whose used-buffer interrupts the kernel raises now (irqfd). */
    public int irqfdQueues() {
        return queueIrqfds.boundQueues();
    }

    /** Call eventfds bound to MSI-X messages in the kernel so far (KVM_IRQFD bindings made). */
    public long irqfdBindings() {
        return queueIrqfds.bindings();
    }

    /** COMMAND's bus master bit decides whether a vector may send: a bound call eventfd follows it. */
    @Override
    protected void configWritten(int offset, int size, int value) {
        if (offset < COMMAND + 2 && offset + size > COMMAND) {
            queueIrqfds.update();
        }
    }

    /**
     * ats=on: the function becomes PCI Express (a Root Complex Integrated Endpoint, as it sits on
     * the root bus) with the ATS extended capability at 0x100, where QEMU 7.2 puts it behind a
     * PCIe port; {@code control} (the function's device-TLB) follows the guest's ATS Control
     * register. Call before the function is added to a bus.
     */
    public void addAts(AtsCapability.Control control) {
        addCapability(new PcieCapability());
        addExtendedCapability(new AtsCapability(control));
    }

    /**
     * Queue notifications through the engine's doorbells (kvm: ioeventfd) wherever the guest maps
     * the transport BAR: armed on the notify addresses when the BAR starts decoding, moved when the
     * guest moves it, disarmed when it stops decoding (also on a reset).
     */
    public synchronized void useDoorbells(Doorbells doorbells) {
        this.doorbells = doorbells;
        long at = bar(TRANSPORT_BAR).mappedAddress();
        if (at >= 0) {
            queueDoorbells.arm(doorbells, q -> at + transport.notifyOffset(q), NOTIFY_WIDTH);
        }
    }

    @Override
    protected void barMapped(int index, PciBarRegion bar, long address) {
        Doorbells d = doorbells;
        if (index == TRANSPORT_BAR && d != null) {
            queueDoorbells.arm(d, q -> address + transport.notifyOffset(q), NOTIFY_WIDTH);
        }
    }

    @Override
    protected void barUnmapped(int index, PciBarRegion bar, long address) {
        if (index == TRANSPORT_BAR) {
            queueDoorbells.disarm();
        }
    }

    public VirtioPciTransport transport() {
        return transport;
    }

    @Override
    protected void resetDevice() {
        transport.reset();
    }

    @Override
    protected DeviceState saveModelState() {
        return transport.saveState();
    }

    @Override
    protected void restoreModelState(DeviceState state) throws DeviceStateException {
        transport.restoreAny(state);
    }
}
