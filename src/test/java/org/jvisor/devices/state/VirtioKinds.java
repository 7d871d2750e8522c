package org.jvisor.devices.state;

import static org.jvisor.devices.virtio.VirtioMmioTransport.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.jvisor.config.MacAddress;
import org.jvisor.devices.pci.MsixCapability;
import org.jvisor.devices.pci.PciCapability;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.pci.PciHostBridge;
import org.jvisor.devices.pci.PciIrqRouting;
import org.jvisor.devices.state.DriverRing.Buf;
import org.jvisor.devices.virtio.Virtio;
import org.jvisor.devices.virtio.VirtioBlk;
import org.jvisor.devices.virtio.VirtioConsole;
import org.jvisor.devices.virtio.VirtioMmioTransport;
import org.jvisor.devices.virtio.VirtioNet;
import org.jvisor.devices.virtio.VirtioPciFunction;
import org.jvisor.devices.virtio.VirtioPciTransport;
import org.jvisor.devices.virtio.VirtioRng;
import org.jvisor.memory.IdentityDma;
import org.jvisor.testing.BoundedDisk;

/**
 * virtio devices on both transports, brought up as Linux's drivers do, with buffers used, in
 * flight (available and not yet notified) and data held inside the device at the save.
 */
final class VirtioKinds {
    private static final long BUFFERS = 0x200000;

    private VirtioKinds() {
    }

    static List<DeviceKind<?>> all() {
        return List.of(rngOnMmio(), blkOnPci(), netOnMmio(), consoleOnMmio());
    }

    // ---- virtio-mmio, as virtio_mmio.c drives it ----

    static int r(VirtioMmioTransport t, int reg) {
        return (int) t.read(reg, 4);
    }

    static void w(VirtioMmioTransport t, int reg, long v) {
        t.write(reg, 4, v & 0xFFFF_FFFFL);
    }

    /** Queue {@code q}'s driver ring in a world: 16 entries at 64 KiB + 16 KiB * q. */
    static DriverRing ring(TestWorld world, int q) {
        return new DriverRing(world.ram, 0x10000 + 0x4000L * q, 16);
    }

    /** Status handshake, every offered feature accepted, queues 0 to {@code queues - 1} set up, DRIVER_OK. */
    static void bringUp(VirtioMmioTransport t, TestWorld world, int queues) {
        w(t, STATUS, 0);
        w(t, STATUS, Virtio.STATUS_ACKNOWLEDGE);
        w(t, STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        for (int page = 0; page < 2; page++) {
            w(t, DEVICE_FEATURES_SEL, page);
            int f = r(t, DEVICE_FEATURES);
            w(t, DRIVER_FEATURES_SEL, page);
            w(t, DRIVER_FEATURES, f);
        }
        w(t, STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK);
        for (int q = 0; q < queues; q++) {
            DriverRing ring = ring(world, q);
            w(t, QUEUE_SEL, q);
            w(t, QUEUE_NUM, ring.size);
            w(t, QUEUE_DESC_LOW, ring.desc);
            w(t, QUEUE_DESC_HIGH, 0);
            w(t, QUEUE_DRIVER_LOW, ring.avail);
            w(t, QUEUE_DRIVER_HIGH, 0);
            w(t, QUEUE_DEVICE_LOW, ring.used);
            w(t, QUEUE_DEVICE_HIGH, 0);
            w(t, QUEUE_READY, 1);
        }
        w(t, STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK
            | Virtio.STATUS_DRIVER_OK);
    }

    /** InterruptStatus, status, generation and the selected queue's registers. */
    static List<Object> mmioRegisters(VirtioMmioTransport t) {
        List<Object> l = new ArrayList<>();
        for (int reg : new int[] {INTERRUPT_STATUS, STATUS, CONFIG_GENERATION, QUEUE_NUM_MAX, QUEUE_READY,
            QUEUE_DESC_LOW, QUEUE_DRIVER_LOW, QUEUE_DEVICE_LOW}) {
            l.add(r(t, reg));
        }
        return l;
    }

    static VirtioMmioTransport onMmio(TestWorld world, org.jvisor.devices.virtio.VirtioDevice device) {
        return new VirtioMmioTransport(device, new IdentityDma(world.ram), world.line("virtio-mmio irq"), world::log);
    }

    /** Two requests served, a third available but not notified, the interrupt not acknowledged. */
    static DeviceKind<VirtioMmioTransport> rngOnMmio() {
        return new DeviceKind<>("virtio-rng on virtio-mmio", world -> onMmio(world, new VirtioRng()),
            (t, world) -> {
                bringUp(t, world, 1);
                DriverRing q = ring(world, 0);
                q.offer(new Buf(BUFFERS, 64, true));
                w(t, QUEUE_NOTIFY, 0);
                q.offer(new Buf(BUFFERS + 0x100, 32, true));
                w(t, QUEUE_NOTIFY, 0);
                q.offer(new Buf(BUFFERS + 0x200, 128, true));
                w(t, QUEUE_SEL, 0);
            },
            (t, world) -> {
                List<Object> seen = new ArrayList<>(mmioRegisters(t));
                DriverRing q = ring(world, 0);
                seen.add(q.usedEntries());
                w(t, QUEUE_NOTIFY, 0);                       // the request in flight is served now
                seen.add(q.usedEntries());
                w(t, INTERRUPT_ACK, r(t, INTERRUPT_STATUS));
                seen.addAll(mmioRegisters(t));
                return seen;
            });
    }

    /** A transmitted frame, a received frame held for lack of buffers, a receive buffer offered and not notified. */
    static DeviceKind<VirtioMmioTransport> netOnMmio() {
        return new DeviceKind<>("virtio-net on virtio-mmio",
            world -> onMmio(world, new VirtioNet(world.net, MacAddress.parse("52:54:00:12:34:56"), 16, world::log)),
            (t, world) -> {
                bringUp(t, world, 2);
                DriverRing tx = ring(world, VirtioNet.TX);
                world.ram.write(BUFFERS, frame(60, 1));
                tx.offer(new Buf(BUFFERS, VirtioNet.HDR_SIZE + 60, false));
                w(t, QUEUE_NOTIFY, VirtioNet.TX);
                world.net.inject(frame(80, 2));              // no receive buffer yet: the device holds it
                ring(world, VirtioNet.RX).offer(new Buf(BUFFERS + 0x10000, 1526, true));
            },
            (t, world) -> {
                List<Object> seen = new ArrayList<>(mmioRegisters(t));
                DriverRing rx = ring(world, VirtioNet.RX);
                seen.add(rx.usedEntries());
                world.net.sent.clear();                      // the host's record of what went out before the save
                world.ram.write(BUFFERS + 0x100, frame(70, 3));
                ring(world, VirtioNet.TX).offer(new Buf(BUFFERS + 0x100, VirtioNet.HDR_SIZE + 70, false));
                w(t, QUEUE_NOTIFY, VirtioNet.TX);
                seen.add(world.net.sent.stream().map(Arrays::toString).toList());
                w(t, QUEUE_NOTIFY, VirtioNet.RX);            // the held frame lands in the buffer
                seen.add(rx.usedEntries());
                seen.add(Arrays.toString(rx.read(BUFFERS + 0x10000, VirtioNet.HDR_SIZE + 80)));
                seen.add(ring(world, VirtioNet.TX).usedEntries());
                seen.addAll(mmioRegisters(t));
                return seen;
            });
    }

    /** A virtio-net header and {@code len} bytes of payload numbered from {@code seed}. */
    static byte[] frame(int len, int seed) {
        byte[] f = new byte[VirtioNet.HDR_SIZE + len];
        for (int i = 0; i < len; i++) {
            f[VirtioNet.HDR_SIZE + i] = (byte) (seed * 31 + i);
        }
        return f;
    }

    /** A console control message: le32 port id, le16 event, le16 value. */
    static byte[] control(int id, int event, int value) {
        return new byte[] {(byte) id, (byte) (id >> 8), (byte) (id >> 16), (byte) (id >> 24), (byte) event,
            (byte) (event >> 8), (byte) value, (byte) (value >> 8)};
    }

    /**
     * MULTIPORT with two ports: DEVICE_READY sent, the two DEVICE_ADD answers held for lack of
     * control buffers, one control buffer offered and not notified, host input held for port 1
     * (which the guest has not opened).
     */
    static DeviceKind<VirtioMmioTransport> consoleOnMmio() {
        return new DeviceKind<>("virtio-console on virtio-mmio",
            world -> {
                VirtioConsole console = new VirtioConsole(2, List.of(
                    new VirtioConsole.PortSpec(0, null, true, world.pipes[0]),
                    new VirtioConsole.PortSpec(1, "org.jvisor.test", false, world.pipes[1])), world::log);
                console.start();
                return onMmio(world, console);
            },
            (t, world) -> {
                bringUp(t, world, 6);
                world.ram.write(BUFFERS, control(-1, 0, 1));  // DEVICE_READY
                ring(world, VirtioConsole.CONTROL_TRANSMITQ).offer(new Buf(BUFFERS, 8, false));
                w(t, QUEUE_NOTIFY, VirtioConsole.CONTROL_TRANSMITQ);
                world.pipes[1].type("hello");
                ring(world, VirtioConsole.CONTROL_RECEIVEQ).offer(new Buf(BUFFERS + 0x1000, 64, true));
            },
            (t, world) -> {
                List<Object> seen = new ArrayList<>(mmioRegisters(t));
                DriverRing control = ring(world, VirtioConsole.CONTROL_RECEIVEQ);
                VirtioConsole console = (VirtioConsole) t.core().device();
                seen.add(console.pendingInput(1));
                w(t, QUEUE_NOTIFY, VirtioConsole.CONTROL_RECEIVEQ);
                control.offer(new Buf(BUFFERS + 0x1100, 64, true));
                w(t, QUEUE_NOTIFY, VirtioConsole.CONTROL_RECEIVEQ);
                seen.add(control.usedEntries());
                seen.add(Arrays.toString(control.read(BUFFERS + 0x1000, 8)));
                seen.add(Arrays.toString(control.read(BUFFERS + 0x1100, 8)));
                int port1Rx = VirtioConsole.receiveq(1);
                ring(world, port1Rx).offer(new Buf(BUFFERS + 0x2000, 64, true));
                world.ram.write(BUFFERS + 0x3000, control(1, 6, 1)); // PORT_OPEN: input flows
                ring(world, VirtioConsole.CONTROL_TRANSMITQ).offer(new Buf(BUFFERS + 0x3000, 8, false));
                w(t, QUEUE_NOTIFY, VirtioConsole.CONTROL_TRANSMITQ);
                seen.add(ring(world, port1Rx).usedEntries());
                seen.add(Arrays.toString(control.read(BUFFERS + 0x2000, 5)));
                seen.add(console.pendingInput(1));
                seen.addAll(mmioRegisters(t));
                return seen;
            });
    }

    // ---- virtio-pci, as virtio_pci_modern.c drives it ----

    static final long MSIX_TABLE = 0xC000_0000L;
    static final long TRANSPORT = 0xC001_0000L;

    static int msixCapability(PciDevice fn) {
        for (PciCapability c : fn.capabilities()) {
            if (c instanceof MsixCapability) {
                return c.offset();
            }
        }
        throw new AssertionError("no MSI-X capability");
    }

    /** A virtio-blk request: header (type, sector) at {@code at}, data after it, status byte last. */
    static void blkRequest(TestWorld world, DriverRing q, long at, int type, long sector, boolean toDisk) {
        world.ram.writeU32(at, type);
        world.ram.writeU32(at + 4, 0);
        world.ram.writeU64(at + 8, sector);
        q.offer(new Buf(at, 16, false), new Buf(at + 0x100, VirtioBlk.SECTOR, !toDisk),
            new Buf(at + 0x100 + VirtioBlk.SECTOR, 1, true));
    }

    /**
     * The guest placed the BARs, enabled MSI-X with a vector for configuration and one for the
     * queue, brought the device up, wrote a sector and offered a read of it without notifying.
     */
    static DeviceKind<VirtioPciFunction> blkOnPci() {
        return new DeviceKind<>("virtio-blk on virtio-pci",
            world -> {
                PciHostBridge bridge = new PciHostBridge(world.io, world.memory, world.msi(), PciIrqRouting.swizzled(16),
                    g -> world.line("gsi" + g));
                VirtioPciFunction fn = new VirtioPciFunction(
                    new VirtioBlk(new BoundedDisk(world.disk, false), "snapdisk", 16, world::log),
                    new IdentityDma(world.ram));
                bridge.add(3, fn);
                return fn;
            },
            (fn, world) -> {
                fn.writeConfig(PciDevice.BAR0 + 4, 4, (int) MSIX_TABLE);
                fn.writeConfig(PciDevice.BAR0 + 16, 4, (int) TRANSPORT);
                fn.writeConfig(PciDevice.BAR0 + 20, 4, 0);
                fn.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_BUS_MASTER);
                for (int v = 0; v < 2; v++) {
                    world.memory.write(MSIX_TABLE + 16L * v, 4, 0xFEE0_0000L);
                    world.memory.write(MSIX_TABLE + 16L * v + 8, 4, 0x30 + v);
                    world.memory.write(MSIX_TABLE + 16L * v + 12, 4, 0);
                }
                fn.writeConfig(msixCapability(fn) + 2, 2, MsixCapability.CONTROL_ENABLE);
                common(world, VirtioPciTransport.DEVICE_STATUS, 1, 0);
                common(world, VirtioPciTransport.DEVICE_STATUS, 1, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
                for (int page = 0; page < 2; page++) {
                    common(world, VirtioPciTransport.DEVICE_FEATURE_SELECT, 4, page);
                    long f = world.memory.read(TRANSPORT + VirtioPciTransport.DEVICE_FEATURE, 4);
                    common(world, VirtioPciTransport.DRIVER_FEATURE_SELECT, 4, page);
                    common(world, VirtioPciTransport.DRIVER_FEATURE, 4, f);
                }
                common(world, VirtioPciTransport.DEVICE_STATUS, 1, 0x0B);
                common(world, VirtioPciTransport.CONFIG_MSIX_VECTOR, 2, 0);
                DriverRing q = ring(world, 0);
                common(world, VirtioPciTransport.QUEUE_SELECT, 2, 0);
                common(world, VirtioPciTransport.QUEUE_SIZE, 2, q.size);
                common(world, VirtioPciTransport.QUEUE_MSIX_VECTOR, 2, 1);
                common(world, VirtioPciTransport.QUEUE_DESC, 4, q.desc);
                common(world, VirtioPciTransport.QUEUE_DESC + 4, 4, 0);
                common(world, VirtioPciTransport.QUEUE_DRIVER, 4, q.avail);
                common(world, VirtioPciTransport.QUEUE_DRIVER + 4, 4, 0);
                common(world, VirtioPciTransport.QUEUE_DEVICE, 4, q.used);
                common(world, VirtioPciTransport.QUEUE_DEVICE + 4, 4, 0);
                common(world, VirtioPciTransport.QUEUE_ENABLE, 2, 1);
                common(world, VirtioPciTransport.DEVICE_STATUS, 1, 0x0F);
                byte[] sector = new byte[VirtioBlk.SECTOR];
                for (int i = 0; i < sector.length; i++) {
                    sector[i] = (byte) (i * 7);
                }
                world.ram.write(BUFFERS + 0x100, sector);
                blkRequest(world, q, BUFFERS, VirtioBlk.T_OUT, 2, true);
                world.memory.write(TRANSPORT + VirtioPciTransport.NOTIFY_OFFSET, 2, 0);
                blkRequest(world, q, BUFFERS + 0x1000, VirtioBlk.T_IN, 2, false);
            },
            (fn, world) -> {
                List<Object> seen = new ArrayList<>();
                DriverRing q = ring(world, 0);
                seen.add(q.usedEntries());
                world.memory.write(TRANSPORT + VirtioPciTransport.NOTIFY_OFFSET, 2, 0);
                seen.add(q.usedEntries());
                seen.add(Arrays.toString(q.read(BUFFERS + 0x1100, VirtioBlk.SECTOR + 1)));
                seen.add(Arrays.toString(Arrays.copyOfRange(world.disk, 2 * VirtioBlk.SECTOR, 3 * VirtioBlk.SECTOR)));
                for (int off : new int[] {VirtioPciTransport.DEVICE_STATUS, VirtioPciTransport.CONFIG_GENERATION}) {
                    seen.add(world.memory.read(TRANSPORT + off, 1));
                }
                for (int off : new int[] {VirtioPciTransport.QUEUE_SELECT, VirtioPciTransport.QUEUE_SIZE,
                    VirtioPciTransport.QUEUE_MSIX_VECTOR, VirtioPciTransport.CONFIG_MSIX_VECTOR}) {
                    seen.add(world.memory.read(TRANSPORT + off, 2));
                }
                seen.add(world.memory.read(TRANSPORT + VirtioPciTransport.ISR_OFFSET, 1));
                seen.addAll(PciKinds.configDump(fn));
                return seen;
            });
    }

    static void common(TestWorld world, int offset, int size, long value) {
        world.memory.write(TRANSPORT + offset, size, value);
    }
}
