package org.jvisor.devices.ahci;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.jvisor.devices.ide.IdeDrive;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.BusDevice;
import org.jvisor.memory.DmaSpace;

/**
 * The AHCI HBA's memory registers (ABAR, AHCI 1.3.1, chapter 3) as QEMU's ich9-ahci has them: the
 * generic host control block (CAP: 64-bit addressing, NCQ, AHCI only, Gen 1, 32 command slots, the
 * port count; GHC with AE always set, IE and HR; IS; PI; VS 1.0) and the ports from 0x100.
 * Accesses are dwords; narrower reads see their bytes of the dword, narrower writes are widened
 * with zeros (QEMU's AHCI region handles 4-byte accesses only). Native command queuing is offered
 * (CAP.SNCQ), as QEMU does: disks report a queue depth of 32 and take READ/WRITE FPDMA QUEUED.
 *
 * <p>Interrupts (10.6): IS has the bit of every port whose PxIS has an enabled bit; with GHC.IE
 * the function's INTx is asserted while IS is not 0, and a message is sent whenever a port raises
 * a new enabled status bit, or IE or a PxIE newly lets a pending one through. All access is
 * serialised on the HBA.
 */
public final class AhciHba implements BusDevice {
    /** Where the ports start in ABAR, and each one's size (3.3). */
    public static final int PORTS_OFFSET = 0x100;
    public static final int PORT_SIZE = 0x80;
    /** ABAR's size: QEMU's 4 KiB (the ports of a 32-port HBA end at 0x1100; six end at 0x400). */
    public static final int ABAR_SIZE = 0x1000;

    /** Where the HBA's interrupt goes: the function's INTx level, and a message (MSI) for each new event. */
    public interface Interrupt {
        void level(boolean asserted);

        void message();
    }

    private final AhciPort[] ports;
    private final Interrupt interrupt;
    private final int capabilities;
    private int globalControl;
    private boolean level;
    private boolean messagePending;

    /**
     * @param name      the controller's name in log lines and state errors ("ahci0")
     * @param portCount 1-32 ports
     * @param dma       guest memory as the HBA reaches it
     * @param log       where guest mistakes are reported
     */
    public AhciHba(String name, int portCount, DmaSpace dma, Interrupt interrupt, Consumer<String> log) {
        if (portCount < 1 || portCount > 32) {
            throw new IllegalArgumentException("AHCI ports " + portCount);
        }
        this.interrupt = interrupt;
        this.ports = new AhciPort[portCount];
        for (int i = 0; i < portCount; i++) {
            ports[i] = new AhciPort(name, i, dma, this::portInterrupt, log);
        }
        this.capabilities = Ahci.CAP_S64A | Ahci.CAP_SNCQ | Ahci.CAP_SAM | Ahci.CAP_ISS_GEN1
            | (Ahci.COMMAND_SLOTS - 1) << 8 | (portCount - 1);
        this.globalControl = Ahci.GHC_AE;
    }

    public int portCount() {
        return ports.length;
    }

    /** Attaches {@code drive} as port {@code port}'s device. */
    public synchronized void attach(int port, IdeDrive drive) {
        if (port < 0 || port >= ports.length) {
            throw new IllegalArgumentException("AHCI port " + port + " does not exist (0-" + (ports.length - 1) + ")");
        }
        ports[port].attach(drive, this);
    }

    /** The device at {@code port}, or null. */
    public synchronized IdeDrive drive(int port) {
        return ports[port].drive();
    }

    // ---- registers --------------------------------------------------------------------------------

    @Override
    public long read(long offset, int size) {
        int at = (int) offset;
        if (size == 8) {
            return readDword(at) & 0xFFFF_FFFFL | (readDword(at + 4) & 0xFFFF_FFFFL) << 32;
        }
        int dword = readDword(at & ~3);
        int shift = 8 * (at & 3);
        long mask = size >= 4 ? 0xFFFF_FFFFL : (1L << (8 * size)) - 1;
        return (dword >>> shift) & mask;
    }

    @Override
    public void write(long offset, int size, long value) {
        int at = (int) offset;
        if (size == 8) {
            writeDword(at, (int) value);
            writeDword(at + 4, (int) (value >>> 32));
            return;
        }
        long mask = size >= 4 ? 0xFFFF_FFFFL : (1L << (8 * size)) - 1;
        writeDword(at & ~3, (int) ((value & mask) << (8 * (at & 3))));
    }

    /** A dword read at {@code offset} of ABAR. */
    public int readDword(int offset) {
        synchronized (this) {
            if (offset >= PORTS_OFFSET) {
                int p = (offset - PORTS_OFFSET) / PORT_SIZE;
                PortRegister r = PortRegister.at((offset - PORTS_OFFSET) % PORT_SIZE);
                return p < ports.length && r != null ? ports[p].read(r) : 0;
            }
            HbaRegister r = HbaRegister.at(offset);
            if (r == null) {
                return 0;
            }
            return switch (r) {
                case CAP -> capabilities;
                case GHC -> globalControl;
                case IS -> interruptStatus();
                case PI -> ports.length == 32 ? -1 : (1 << ports.length) - 1;
                case VS -> Ahci.VERSION_1_0;
                case CCC_CTL, CCC_PORTS, EM_LOC, EM_CTL, CAP2, BOHC -> 0;
            };
        }
    }

    /** A dword write at {@code offset} of ABAR. */
    public void writeDword(int offset, int value) {
        boolean send;
        synchronized (this) {
            if (offset >= PORTS_OFFSET) {
                int p = (offset - PORTS_OFFSET) / PORT_SIZE;
                PortRegister r = PortRegister.at((offset - PORTS_OFFSET) % PORT_SIZE);
                if (p < ports.length && r != null) {
                    ports[p].write(r, value);
                }
            } else if (HbaRegister.at(offset) == HbaRegister.GHC) {
                if ((value & Ahci.GHC_HR) != 0) {
                    resetRegisters(); // done at once: HR reads 0 again (10.4.3)
                } else {
                    globalControl = Ahci.GHC_AE | value & Ahci.GHC_IE;
                }
            }
            // IS is write-1-to-clear, but each bit follows its port's PxIS, which software clears first
            send = updateInterrupt();
        }
        if (send) {
            interrupt.message();
        }
    }

    private int interruptStatus() {
        int is = 0;
        for (int i = 0; i < ports.length; i++) {
            if (ports[i].interruptPending()) {
                is |= 1 << i;
            }
        }
        return is;
    }

    /** A port set PxIS bits (called under the lock, from the port). */
    private void portInterrupt(int port) {
        if (ports[port].interruptPending()) {
            messagePending = true;
        }
    }

    /** Drives INTx; true when a message is due (a new event, or the condition just became true). */
    private boolean updateInterrupt() {
        boolean now = (globalControl & Ahci.GHC_IE) != 0 && interruptStatus() != 0;
        boolean send = now && (messagePending || !level);
        messagePending = false;
        if (now != level) {
            level = now;
            interrupt.level(now);
        }
        return send;
    }

    // ---- reset and state --------------------------------------------------------------------------

    /** GHC.HR or a PCI reset: GHC to AE only, every port to its reset values and its device COMRESET. */
    public void reset() {
        synchronized (this) {
            resetRegisters();
            updateInterrupt();
        }
    }

    private void resetRegisters() {
        globalControl = Ahci.GHC_AE;
        for (AhciPort p : ports) {
            p.reset();
        }
        messagePending = false;
    }

    public synchronized List<AhciPortState> save() {
        List<AhciPortState> s = new ArrayList<>(ports.length);
        for (AhciPort p : ports) {
            s.add(p.save());
        }
        return s;
    }

    public synchronized int globalControl() {
        return globalControl;
    }

    /** Takes the registers and ports of a saved HBA with as many ports; then drives INTx to match. */
    public void restore(String where, int ghc, List<AhciPortState> states) throws DeviceStateException {
        synchronized (this) {
            DeviceStateException.checkLength(where, "ports", states.size(), ports.length);
            DeviceStateException.checkBits(where, "GHC", ghc & 0xFFFF_FFFFL, (Ahci.GHC_AE | Ahci.GHC_IE) & 0xFFFF_FFFFL);
            for (int i = 0; i < ports.length; i++) {
                ports[i].restore(states.get(i));
            }
            globalControl = ghc | Ahci.GHC_AE;
            level = !((globalControl & Ahci.GHC_IE) != 0 && interruptStatus() != 0);
            messagePending = false;
            updateInterrupt(); // a message interrupted by the snapshot is not sent again: the driver polls IS
        }
    }
}
