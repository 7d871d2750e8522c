package org.jvisor.devices.virtio;

import java.util.List;
import java.util.function.Consumer;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.IrqLine;

/**
 * The virtio side of a modern virtio-pci device (virtio 1.2, 4.1): one memory BAR of
 * {@link #BAR_SIZE} bytes holding the common configuration, ISR, device configuration and notify
 * structures, and the vendor capabilities that point at them. It knows nothing of PCI config space:
 * the PCI side creates the function with {@link #PCI_VENDOR_ID}, {@link #pciDeviceId()},
 * {@link #PCI_REVISION}, {@link #classCode()}, places {@link #capabilities()} in its capability list,
 * maps {@link #bar()} at the BAR it assigned, and provides MSI-X with {@link #msixVectorCount()}
 * entries through {@link MsixVectors}. Without MSI-X enabled, interrupts use the ISR and {@code intx}.
 */
public final class VirtioPciTransport implements StatefulDevice<VirtioPciState> {
    public static final int PCI_VENDOR_ID = 0x1AF4;
    /** Revision 1: a modern-only (non-transitional) device. */
    public static final int PCI_REVISION = 1;
    public static final int NO_VECTOR = 0xFFFF;

    public static final int COMMON_OFFSET = 0x0000;
    public static final int COMMON_LENGTH = 0x3C;
    public static final int ISR_OFFSET = 0x1000;
    public static final int DEVICE_OFFSET = 0x2000;
    public static final int NOTIFY_OFFSET = 0x3000;
    public static final int NOTIFY_OFF_MULTIPLIER = 4;
    public static final int BAR_SIZE = 0x4000;

    // struct virtio_pci_common_cfg (4.1.4.3)
    public static final int DEVICE_FEATURE_SELECT = 0x00;
    public static final int DEVICE_FEATURE = 0x04;
    public static final int DRIVER_FEATURE_SELECT = 0x08;
    public static final int DRIVER_FEATURE = 0x0c;
    public static final int CONFIG_MSIX_VECTOR = 0x10;
    public static final int NUM_QUEUES = 0x12;
    public static final int DEVICE_STATUS = 0x14;
    public static final int CONFIG_GENERATION = 0x15;
    public static final int QUEUE_SELECT = 0x16;
    public static final int QUEUE_SIZE = 0x18;
    public static final int QUEUE_MSIX_VECTOR = 0x1a;
    public static final int QUEUE_ENABLE = 0x1c;
    public static final int QUEUE_NOTIFY_OFF = 0x1e;
    public static final int QUEUE_DESC = 0x20;
    public static final int QUEUE_DRIVER = 0x28;
    public static final int QUEUE_DEVICE = 0x30;
    public static final int QUEUE_NOTIFY_DATA = 0x38;
    public static final int QUEUE_RESET = 0x3a;

    private final VirtioCore core;
    private final int barIndex;
    private final MsixVectors msix;
    private final IrqLine intx;
    private final int vectorCount;
    private final Object isrLock = new Object();
    private int isr;
    private boolean intxLevel;

    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private int configVector = NO_VECTOR;
    private int queueSelect;
    /** Told when a queue's MSI-X vector may have changed (see {@link #onVectorsChanged}). */
    private volatile Runnable vectorsChanged = () -> { };

    private final BusDevice bar = new BusDevice() {
        @Override
        public long read(long offset, int size) {
            return barRead((int) offset, size);
        }

        @Override
        public void write(long offset, int size, long value) {
            barWrite((int) offset, size, value);
        }
    };

    /** PCI reset (RST#): the device resets, the transport's selectors and interrupt state clear. */
    public void reset() {
        core.resetDevice();
        synchronized (isrLock) {
            isr = 0;
            if (intxLevel) {
                intxLevel = false;
                intx.set(false);
            }
        }
        deviceFeatureSelect = 0;
        driverFeatureSelect = 0;
        configVector = NO_VECTOR;
        queueSelect = 0;
        vectorsChanged.run();
    }

    /**
     * Runs {@code listener} after the driver may have changed a queue's MSI-X vector
     * (queue_msix_vector, a device reset, a restore), on the writing thread.
     */
    public void onVectorsChanged(Runnable listener) {
        this.vectorsChanged = listener;
    }

    /**
     * @param barIndex which BAR (0-5) the PCI side maps {@link #bar()} at (QEMU uses 4, 64-bit)
     * @param msix     the function's MSI-X table ({@link #msixVectorCount()} entries)
     * @param intx     the INTx line, used while MSI-X is disabled
     */
    public VirtioPciTransport(VirtioDevice device, DmaSpace dma, int barIndex, MsixVectors msix, IrqLine intx,
                              Consumer<String> log) {
        this.core = new VirtioCore(device, dma, log);
        this.barIndex = barIndex;
        this.msix = msix;
        this.intx = intx;
        this.vectorCount = device.queueCount() + 1;
        core.setTransportInterrupt(new VirtioInterrupt() {
            @Override
            public void usedBuffer(int queue) {
                SplitVirtqueue q = core.queue(queue);
                if (msix.enabled()) {
                    int v = q == null ? NO_VECTOR : q.msixVector();
                    if (v != NO_VECTOR) {
                        msix.notify(v);
                    }
                } else {
                    raiseIsr(Virtio.INT_VRING);
                }
            }

            @Override
            public void configChanged() {
                synchronized (isrLock) {
                    isr |= Virtio.INT_CONFIG;
                }
                if (msix.enabled()) {
                    int v = configVector;
                    if (v != NO_VECTOR) {
                        msix.notify(v);
                    }
                } else {
                    raiseIsr(Virtio.INT_CONFIG);
                }
            }
        });
    }

    public VirtioPciTransport(VirtioDevice device, DmaSpace dma, int barIndex, MsixVectors msix, IrqLine intx) {
        this(device, dma, barIndex, msix, intx, msg -> System.err.println("jvisor: " + msg));
    }

    public VirtioCore core() {
        return core;
    }

    /** PCI device ID: 0x1040 + virtio device type (4.1.2). */
    public int pciDeviceId() {
        return 0x1040 + core.device().deviceType();
    }

    /** Subsystem vendor/device: the virtio vendor and 0x40+ (modern). */
    public int subsystemVendorId() {
        return PCI_VENDOR_ID;
    }

    public int subsystemId() {
        return 0x40 + core.device().deviceType();
    }

    /** 24-bit class code (class, subclass, prog-if) as QEMU reports for this device type. */
    public int classCode() {
        return classCodeFor(core.device().deviceType());
    }

    /** The class code for a virtio device type, before any transport exists. */
    public static int classCodeFor(int deviceType) {
        return switch (deviceType) {
            case Virtio.ID_NET -> 0x020000;
            case Virtio.ID_BLOCK -> 0x010000;
            case Virtio.ID_CONSOLE -> 0x078000;
            case Virtio.ID_FS -> 0x018000;   // mass storage, other (QEMU's vhost-user-fs-pci)
            default -> 0xFF0000;
        };
    }

    /** MSI-X table entries wanted: one per queue plus one for configuration changes. */
    public int msixVectorCount() {
        return vectorCount;
    }

    public int barIndex() {
        return barIndex;
    }

    /** The BAR's contents, {@link #BAR_SIZE} bytes, to map where the BAR is programmed. */
    public BusDevice bar() {
        return bar;
    }

    /** BAR offset a driver writes to notify queue {@code q} (for an ioeventfd): 2-byte writes. */
    public int notifyOffset(int q) {
        return NOTIFY_OFFSET + q * NOTIFY_OFF_MULTIPLIER;
    }

    /** The vendor capabilities to chain into config space, in this order. */
    public List<VirtioPciCapability> capabilities() {
        int deviceLen = Math.max(4, core.device().configSize());
        return List.of(
            new VirtioPciCapability(VirtioPciCapability.COMMON, barIndex, COMMON_OFFSET, COMMON_LENGTH, 0),
            new VirtioPciCapability(VirtioPciCapability.ISR, barIndex, ISR_OFFSET, 1, 0),
            new VirtioPciCapability(VirtioPciCapability.DEVICE, barIndex, DEVICE_OFFSET, deviceLen, 0),
            new VirtioPciCapability(VirtioPciCapability.NOTIFY, barIndex, NOTIFY_OFFSET,
                core.queueCount() * NOTIFY_OFF_MULTIPLIER, NOTIFY_OFF_MULTIPLIER),
            new VirtioPciCapability(VirtioPciCapability.PCI_CFG, 0, 0, 0, 0));
    }

    /**
     * The VIRTIO_PCI_CAP_PCI_CFG window (4.1.4.9): the driver writes bar, offset and length into that
     * capability and then accesses its 4-byte pci_cfg_data (capability bytes 16-19). The PCI side
     * forwards such a read here with the bar/offset/length currently in the capability.
     */
    public long pciCfgDataRead(int bar, int offset, int length) {
        if (bar != barIndex || (length != 1 && length != 2 && length != 4) || offset < 0 || offset + length > BAR_SIZE) {
            return 0;
        }
        return barRead(offset, length);
    }

    /** A write to pci_cfg_data, see {@link #pciCfgDataRead}. */
    public void pciCfgDataWrite(int bar, int offset, int length, long value) {
        if (bar != barIndex || (length != 1 && length != 2 && length != 4) || offset < 0 || offset + length > BAR_SIZE) {
            return;
        }
        barWrite(offset, length, value);
    }

    @Override
    public VirtioPciState saveState() {
        VirtioState virtio = core.saveState();
        int status;
        synchronized (isrLock) {
            status = isr;
        }
        synchronized (this) {
            return new VirtioPciState(status, deviceFeatureSelect, driverFeatureSelect, configVector, queueSelect, virtio);
        }
    }

    /**
     * Restores the device, then the common configuration registers and the ISR; INTx is asserted
     * if the ISR is set while MSI-X is off (restore the function's MSI-X capability first).
     * Queues are processed again from {@link VirtioCore#kickActiveQueues()} when the machine runs.
     */
    @Override
    public void restoreState(VirtioPciState s) throws DeviceStateException {
        String name = "virtio-pci " + core.device().name();
        DeviceStateException.checkBits(name, "ISR", s.isr(), Virtio.INT_VRING | Virtio.INT_CONFIG);
        checkVector(name, "config_msix_vector", s.configVector());
        for (int i = 0; i < s.virtio().queues().size(); i++) {
            checkVector(name, "queue " + i + " msix_vector", s.virtio().queues().get(i).msixVector());
        }
        core.restoreState(s.virtio());
        synchronized (this) {
            deviceFeatureSelect = s.deviceFeatureSelect();
            driverFeatureSelect = s.driverFeatureSelect();
            configVector = s.configVector();
            queueSelect = s.queueSelect();
        }
        synchronized (isrLock) {
            isr = s.isr();
            boolean level = isr != 0 && !msix.enabled();
            if (level != intxLevel) {
                intxLevel = level;
                intx.set(level);
            }
        }
        vectorsChanged.run();
    }

    private void checkVector(String name, String field, int vector) throws DeviceStateException {
        if (vector != NO_VECTOR) {
            DeviceStateException.checkRange(name, field, vector, 0, vectorCount - 1);
        }
    }

    @Override
    public Class<VirtioPciState> stateType() {
        return VirtioPciState.class;
    }

    private void raiseIsr(int bits) {
        synchronized (isrLock) {
            isr |= bits;
            if (!intxLevel) {
                intxLevel = true;
                intx.set(true);
            }
        }
    }

    /** Reading the ISR returns and clears it, and lowers INTx (4.1.4.5). */
    public int readIsr() {
        synchronized (isrLock) {
            int v = isr;
            isr = 0;
            if (intxLevel) {
                intxLevel = false;
                intx.set(false);
            }
            return v;
        }
    }

    private long barRead(int off, int size) {
        if (off >= COMMON_OFFSET && off < COMMON_OFFSET + COMMON_LENGTH) {
            return readCommon(off - COMMON_OFFSET, size);
        }
        if (off == ISR_OFFSET) {
            return readIsr();
        }
        if (off >= DEVICE_OFFSET && off < DEVICE_OFFSET + 0x1000) {
            int c = off - DEVICE_OFFSET;
            VirtioDevice d = core.device();
            return c + size <= d.configSize() ? d.readConfig(c, size) : 0;
        }
        return 0;
    }

    private void barWrite(int off, int size, long value) {
        if (off >= NOTIFY_OFFSET && off < NOTIFY_OFFSET + 0x1000) {
            core.driverNotify((off - NOTIFY_OFFSET) / NOTIFY_OFF_MULTIPLIER);
            return;
        }
        if (off >= COMMON_OFFSET && off < COMMON_OFFSET + COMMON_LENGTH) {
            writeCommon(off - COMMON_OFFSET, size, value);
            return;
        }
        if (off >= DEVICE_OFFSET && off < DEVICE_OFFSET + 0x1000) {
            int c = off - DEVICE_OFFSET;
            VirtioDevice d = core.device();
            if (c + size <= d.configSize()) {
                d.writeConfig(c, size, value);
            }
        }
    }

    private synchronized long readCommon(int off, int size) {
        SplitVirtqueue q = core.queue(queueSelect);
        long v = switch (off) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect;
            case DEVICE_FEATURE -> core.deviceFeatures(deviceFeatureSelect) & 0xFFFF_FFFFL;
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect;
            case DRIVER_FEATURE -> core.driverFeatures(driverFeatureSelect) & 0xFFFF_FFFFL;
            case CONFIG_MSIX_VECTOR -> configVector;
            case NUM_QUEUES -> core.queueCount();
            case DEVICE_STATUS -> core.status();
            case CONFIG_GENERATION -> core.configGeneration() & 0xFF;
            case QUEUE_SELECT -> queueSelect;
            case QUEUE_SIZE -> q == null ? 0 : q.size();
            case QUEUE_MSIX_VECTOR -> q == null ? NO_VECTOR : q.msixVector();
            case QUEUE_ENABLE -> q != null && q.ready() ? 1 : 0;
            case QUEUE_NOTIFY_OFF -> q == null ? 0 : queueSelect;
            case QUEUE_DESC -> q == null ? 0 : q.descTable();
            case QUEUE_DESC + 4 -> q == null ? 0 : q.descTable() >>> 32;
            case QUEUE_DRIVER -> q == null ? 0 : q.driverArea();
            case QUEUE_DRIVER + 4 -> q == null ? 0 : q.driverArea() >>> 32;
            case QUEUE_DEVICE -> q == null ? 0 : q.deviceArea();
            case QUEUE_DEVICE + 4 -> q == null ? 0 : q.deviceArea() >>> 32;
            case QUEUE_NOTIFY_DATA -> q == null ? 0 : queueSelect;
            default -> 0; // queue_reset: VIRTIO_F_RING_RESET is not offered
        };
        return size == 8 ? v : v & ((1L << (size * 8)) - 1);
    }

    private synchronized void writeCommon(int off, int size, long value) {
        SplitVirtqueue q = core.queue(queueSelect);
        int v = (int) value;
        switch (off) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect = v;
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect = v;
            case DRIVER_FEATURE -> core.writeDriverFeatures(driverFeatureSelect, v);
            case CONFIG_MSIX_VECTOR -> configVector = validVector(v & 0xFFFF);
            case DEVICE_STATUS -> {
                core.writeStatus(v & 0xFF);
                if ((v & 0xFF) == 0) {
                    deviceFeatureSelect = 0;
                    driverFeatureSelect = 0;
                    queueSelect = 0;
                    configVector = NO_VECTOR;
                    readIsr();
                    vectorsChanged.run();
                }
            }
            case QUEUE_SELECT -> queueSelect = v & 0xFFFF;
            case QUEUE_SIZE -> {
                if (core.queueWritable(queueSelect)) {
                    q.setSize(v & 0xFFFF);
                }
            }
            case QUEUE_MSIX_VECTOR -> {
                if (q != null) {
                    q.setMsixVector(validVector(v & 0xFFFF));
                    vectorsChanged.run();
                }
            }
            case QUEUE_ENABLE -> {
                if ((v & 0xFFFF) == 1) {
                    core.setQueueReady(queueSelect, true);
                }
            }
            case QUEUE_DESC, QUEUE_DESC + 4, QUEUE_DRIVER, QUEUE_DRIVER + 4, QUEUE_DEVICE, QUEUE_DEVICE + 4 -> {
                if (!core.queueWritable(queueSelect)) {
                    return;
                }
                int field = off & ~7;
                long cur = field == QUEUE_DESC ? q.descTable() : field == QUEUE_DRIVER ? q.driverArea() : q.deviceArea();
                long next;
                if (size == 8) {
                    next = value;
                } else if ((off & 4) == 0) {
                    next = (cur & 0xFFFF_FFFF_0000_0000L) | (value & 0xFFFF_FFFFL);
                } else {
                    next = (cur & 0xFFFF_FFFFL) | (value << 32);
                }
                if (field == QUEUE_DESC) {
                    q.setDescTable(next);
                } else if (field == QUEUE_DRIVER) {
                    q.setDriverArea(next);
                } else {
                    q.setDeviceArea(next);
                }
            }
            default -> {
                // read-only fields
            }
        }
    }

    private int validVector(int v) {
        return v < vectorCount ? v : NO_VECTOR;
    }
}
