/**
 * virtio 1.2: split virtqueues, the device-status lifecycle, the virtio-mmio (v2) and modern
 * virtio-pci transports, and the devices (virtio-blk, virtio-net, virtio-rng, virtio-console as
 * QEMU's virtio-serial).
 *
 * <h2>Shape</h2>
 * <pre>
 *  vCPU: MMIO/BAR access ──► VirtioMmioTransport / VirtioPciTransport (registers)
 *                                 │  status, features, queue config
 *                                 ▼
 *                            VirtioCore ── notifyQueue(q) ──► executor (VirtioIoThread) or inline
 *                                 │                                   │
 *                                 ▼                                   ▼
 *                            VirtioDevice.activate(...)        VirtioDevice.processQueue(q)
 *                                                                     │ pop / push
 *                                                                     ▼
 *                                                              SplitVirtqueue ── DmaSpace ──► guest RAM
 * </pre>
 * A device whose backend produces work by itself (virtio-net: a frame arrived from the tap) calls
 * {@code VirtioInterrupt.backendReady(q)} from the backend's thread; the core then processes queue
 * q on the executor, under the same serialisation as a driver notification.
 *
 * <h2>Wiring (machine side)</h2>
 * <ul>
 * <li>DMA: pass {@code new IdentityDma(ram, tcg::invalidateCode)} (the listener hears every
 *     device write into guest RAM; with kvm pass {@code WriteListener.NONE} or the dirty log).
 *     Any other {@link org.jvisor.memory.DmaSpace} works too (data is then copied through a bounce
 *     buffer and buffers are checked when touched, not before).</li>
 * <li>virtio-mmio: map {@link org.jvisor.devices.virtio.VirtioMmioTransport} ({@code WINDOW_SIZE}
 *     bytes) in the memory space and give it a level-triggered IrqLine; describe it in the DSDT as
 *     a device with _HID "LNRO0005", _CRS = the window + the interrupt (level, active high).</li>
 * <li>virtio-pci: create a PCI function with {@code PCI_VENDOR_ID}, {@code pciDeviceId()},
 *     {@code PCI_REVISION}, {@code classCode()}, subsystem ids; a 64-bit memory BAR
 *     {@code barIndex()} of {@code BAR_SIZE} bytes mapped to {@code bar()}; the vendor
 *     capabilities from {@code capabilities()} chained into the capability list (fill cap_next);
 *     forward accesses to the PCI_CFG capability's pci_cfg_data to {@code pciCfgDataRead/Write};
 *     an MSI-X capability with {@code msixVectorCount()} entries behind {@link
 *     org.jvisor.devices.virtio.MsixVectors} (whose {@code notify} must not take a lock held around
 *     BAR accesses); INTx as the IrqLine used while MSI-X is disabled.</li>
 * <li>Processing off the vCPU thread: {@code transport.core().setExecutor(new VirtioIoThread(name))}.
 *     Where the engine offers {@link org.jvisor.memory.Doorbells} (kvm: ioeventfd), give them to
 *     {@code VirtioPciFunction.useDoorbells} (armed on {@code notifyOffset(q)} wherever the guest
 *     maps the BAR, moved and disarmed with it) or {@code VirtioMmioTransport.useDoorbells} (on
 *     QueueNotify): a notification then reaches {@code core().driverNotify(q)} without a vCPU exit.</li>
 * <li>Sidecore polling (-object iothread): {@code new VirtioIoThread(id, new PollWindow(max, grow,
 *     shrink), tidProbe).poll(core)} for each device sharing it. The thread polls the cores' queues
 *     ({@code VirtioCore.pollQueue}) with {@link org.jvisor.devices.virtio.SplitVirtqueue#setPolled}
 *     keeping notifications off, and {@code VirtioCore.endPoll} turns them on and re-checks the
 *     ring before it blocks.</li>
 * </ul>
 */
package org.jvisor.devices.virtio;
