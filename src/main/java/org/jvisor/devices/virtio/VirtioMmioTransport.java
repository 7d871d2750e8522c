package org.jvisor.devices.virtio;

import java.util.function.Consumer;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StatefulDevice;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.Doorbells;
import org.jvisor.memory.IrqLine;

/**
 * virtio over MMIO, version 2 (virtio 1.2, 4.2.2): a 0x200-byte register window (config space from
 * 0x100) and one level-triggered interrupt held while InterruptStatus is non-zero, until the driver
 * writes InterruptACK. Found by Linux through ACPI (_HID "LNRO0005") or the kernel command line.
 */
public final class VirtioMmioTransport implements BusDevice, StatefulDevice<VirtioMmioState> {
    /** Size of the register window to map. */
    public static final int WINDOW_SIZE = 0x200;

    public static final int MAGIC_VALUE = 0x000;
    public static final int VERSION = 0x004;
    public static final int DEVICE_ID = 0x008;
    public static final int VENDOR_ID = 0x00c;
    public static final int DEVICE_FEATURES = 0x010;
    public static final int DEVICE_FEATURES_SEL = 0x014;
    public static final int DRIVER_FEATURES = 0x020;
    public static final int DRIVER_FEATURES_SEL = 0x024;
    public static final int QUEUE_SEL = 0x030;
    public static final int QUEUE_NUM_MAX = 0x034;
    public static final int QUEUE_NUM = 0x038;
    public static final int QUEUE_READY = 0x044;
    public static final int QUEUE_NOTIFY = 0x050;
    public static final int INTERRUPT_STATUS = 0x060;
    public static final int INTERRUPT_ACK = 0x064;
    public static final int STATUS = 0x070;
    public static final int QUEUE_DESC_LOW = 0x080;
    public static final int QUEUE_DESC_HIGH = 0x084;
    public static final int QUEUE_DRIVER_LOW = 0x090;
    public static final int QUEUE_DRIVER_HIGH = 0x094;
    public static final int QUEUE_DEVICE_LOW = 0x0a0;
    public static final int QUEUE_DEVICE_HIGH = 0x0a4;
    public static final int SHM_SEL = 0x0ac;
    public static final int SHM_LEN_LOW = 0x0b0;
    public static final int SHM_LEN_HIGH = 0x0b4;
    public static final int SHM_BASE_LOW = 0x0b8;
    public static final int SHM_BASE_HIGH = 0x0bc;
    public static final int QUEUE_RESET = 0x0c0;
    public static final int CONFIG_GENERATION = 0x0fc;
    public static final int CONFIG = 0x100;

    /** "virt" little-endian. */
    public static final int MAGIC = 0x74726976;
    /** Vendor ID reported: QEMU's, as Linux does not care. */
    public static final int VENDOR = 0x554D4551;

    private final VirtioCore core;
    private final IrqLine irq;
    private final Object irqLock = new Object();
    private int interruptStatus;
    private boolean irqLevel;

    private int deviceFeaturesSel;
    private int driverFeaturesSel;
    private int queueSel;
    private QueueDoorbells queueDoorbells;

    public VirtioMmioTransport(VirtioDevice device, DmaSpace dma, IrqLine irq) {
        this(new VirtioCore(device, dma), irq);
    }

    public VirtioMmioTransport(VirtioDevice device, DmaSpace dma, IrqLine irq, Consumer<String> log) {
        this(new VirtioCore(device, dma, log), irq);
    }

    private VirtioMmioTransport(VirtioCore core, IrqLine irq) {
        this.core = core;
        this.irq = irq;
        core.setTransportInterrupt(new VirtioInterrupt() {
            @Override
            public void usedBuffer(int queue) {
                raise(Virtio.INT_VRING);
            }

            @Override
            public void configChanged() {
                raise(Virtio.INT_CONFIG);
            }
        });
    }

    /**
     * Queue notifications through the engine's doorbells (kvm: ioeventfd): the 32-bit write of the
     * queue index to QueueNotify of this window at {@code base} no longer exits to the VMM.
     */
    public synchronized void useDoorbells(Doorbells doorbells, long base) {
        if (queueDoorbells == null) {
            queueDoorbells = new QueueDoorbells(core, msg -> System.err.println("jvisor: " + msg));
        }
        queueDoorbells.arm(doorbells, q -> base + QUEUE_NOTIFY, 4);
    }

    public VirtioCore core() {
        return core;
    }

    private void raise(int bits) {
        synchronized (irqLock) {
            interruptStatus |= bits;
            updateIrq();
        }
    }

    private void updateIrq() {
        boolean level = interruptStatus != 0;
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    /** Machine reset: the device resets, the selectors and the interrupt status clear. */
    public void reset() {
        core.resetDevice();
        synchronized (irqLock) {
            interruptStatus = 0;
            updateIrq();
        }
        deviceFeaturesSel = 0;
        driverFeaturesSel = 0;
        queueSel = 0;
    }

    @Override
    public VirtioMmioState saveState() {
        VirtioState virtio = core.saveState();
        int status;
        synchronized (irqLock) {
            status = interruptStatus;
        }
        synchronized (this) {
            return new VirtioMmioState(status, deviceFeaturesSel, driverFeaturesSel, queueSel, virtio);
        }
    }

    /**
     * Restores the device, then the registers; the interrupt line follows InterruptStatus.
     * Queues are processed again from {@link VirtioCore#kickActiveQueues()} when the machine runs.
     */
    @Override
    public void restoreState(VirtioMmioState s) throws DeviceStateException {
        DeviceStateException.checkBits("virtio-mmio", "InterruptStatus", s.interruptStatus(),
            Virtio.INT_VRING | Virtio.INT_CONFIG);
        core.restoreState(s.virtio());
        synchronized (this) {
            deviceFeaturesSel = s.deviceFeaturesSel();
            driverFeaturesSel = s.driverFeaturesSel();
            queueSel = s.queueSel();
        }
        synchronized (irqLock) {
            interruptStatus = s.interruptStatus();
            updateIrq();
        }
    }

    @Override
    public Class<VirtioMmioState> stateType() {
        return VirtioMmioState.class;
    }

    /** Current level of the interrupt line (for tests and state dumps). */
    public boolean irqLevel() {
        synchronized (irqLock) {
            return irqLevel;
        }
    }

    @Override
    public long read(long offset, int size) {
        int off = (int) offset;
        if (off >= CONFIG) {
            return readConfig(off - CONFIG, size);
        }
        if (size != 4) {
            return 0; // registers are 32-bit wide only (4.2.2.2)
        }
        long v = readRegister(off);
        return v & 0xFFFF_FFFFL;
    }

    private long readConfig(int off, int size) {
        VirtioDevice d = core.device();
        if (off < 0 || off + size > d.configSize()) {
            return 0;
        }
        return d.readConfig(off, size);
    }

    private synchronized int readRegister(int off) {
        SplitVirtqueue q = core.queue(queueSel);
        return switch (off) {
            case MAGIC_VALUE -> MAGIC;
            case VERSION -> 2;
            case DEVICE_ID -> core.device().deviceType();
            case VENDOR_ID -> VENDOR;
            case DEVICE_FEATURES -> core.deviceFeatures(deviceFeaturesSel);
            case QUEUE_NUM_MAX -> q == null ? 0 : q.maxSize();
            case QUEUE_READY -> q != null && q.ready() ? 1 : 0;
            case INTERRUPT_STATUS -> {
                synchronized (irqLock) {
                    yield interruptStatus;
                }
            }
            case STATUS -> core.status();
            case QUEUE_DESC_LOW -> q == null ? 0 : (int) q.descTable();
            case QUEUE_DESC_HIGH -> q == null ? 0 : (int) (q.descTable() >>> 32);
            case QUEUE_DRIVER_LOW -> q == null ? 0 : (int) q.driverArea();
            case QUEUE_DRIVER_HIGH -> q == null ? 0 : (int) (q.driverArea() >>> 32);
            case QUEUE_DEVICE_LOW -> q == null ? 0 : (int) q.deviceArea();
            case QUEUE_DEVICE_HIGH -> q == null ? 0 : (int) (q.deviceArea() >>> 32);
            case SHM_LEN_LOW, SHM_LEN_HIGH -> -1; // no shared memory regions: length ~0
            case CONFIG_GENERATION -> core.configGeneration();
            default -> 0;
        };
    }

    @Override
    public void write(long offset, int size, long value) {
        int off = (int) offset;
        if (off >= CONFIG) {
            VirtioDevice d = core.device();
            int c = off - CONFIG;
            if (c + size <= d.configSize()) {
                d.writeConfig(c, size, value);
            }
            return;
        }
        if (size != 4) {
            return;
        }
        int v = (int) value;
        if (off == QUEUE_NOTIFY) {
            // The hot path: no transport lock; the core processes the queue or hands it on.
            core.driverNotify(v & 0xFFFF);
            return;
        }
        if (off == INTERRUPT_ACK) {
            synchronized (irqLock) {
                interruptStatus &= ~v;
                updateIrq();
            }
            return;
        }
        writeRegister(off, v);
    }

    private synchronized void writeRegister(int off, int v) {
        switch (off) {
            case DEVICE_FEATURES_SEL -> deviceFeaturesSel = v;
            case DRIVER_FEATURES -> core.writeDriverFeatures(driverFeaturesSel, v);
            case DRIVER_FEATURES_SEL -> driverFeaturesSel = v;
            case QUEUE_SEL -> queueSel = v;
            case QUEUE_NUM -> {
                if (core.queueWritable(queueSel)) {
                    core.queue(queueSel).setSize(v);
                }
            }
            case QUEUE_READY -> core.setQueueReady(queueSel, v == 1);
            case STATUS -> {
                core.writeStatus(v);
                if ((v & 0xFF) == 0) {
                    deviceFeaturesSel = 0;
                    driverFeaturesSel = 0;
                    queueSel = 0;
                    synchronized (irqLock) {
                        interruptStatus = 0;
                        updateIrq();
                    }
                }
            }
            case QUEUE_DESC_LOW -> setLow(0, v);
            case QUEUE_DESC_HIGH -> setHigh(0, v);
            case QUEUE_DRIVER_LOW -> setLow(1, v);
            case QUEUE_DRIVER_HIGH -> setHigh(1, v);
            case QUEUE_DEVICE_LOW -> setLow(2, v);
            case QUEUE_DEVICE_HIGH -> setHigh(2, v);
            default -> {
                // read-only or unimplemented (SHMSel, QueueReset without VIRTIO_F_RING_RESET)
            }
        }
    }

    private void setLow(int which, int v) {
        if (!core.queueWritable(queueSel)) {
            return;
        }
        SplitVirtqueue q = core.queue(queueSel);
        long cur = get(q, which);
        set(q, which, (cur & 0xFFFF_FFFF_0000_0000L) | (v & 0xFFFF_FFFFL));
    }

    private void setHigh(int which, int v) {
        if (!core.queueWritable(queueSel)) {
            return;
        }
        SplitVirtqueue q = core.queue(queueSel);
        long cur = get(q, which);
        set(q, which, (cur & 0xFFFF_FFFFL) | ((long) v << 32));
    }

    private static long get(SplitVirtqueue q, int which) {
        return switch (which) {
            case 0 -> q.descTable();
            case 1 -> q.driverArea();
            default -> q.deviceArea();
        };
    }

    private static void set(SplitVirtqueue q, int which, long a) {
        switch (which) {
            case 0 -> q.setDescTable(a);
            case 1 -> q.setDriverArea(a);
            default -> q.setDeviceArea(a);
        }
    }
}
