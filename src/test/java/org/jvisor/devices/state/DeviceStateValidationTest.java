package org.jvisor.devices.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.jvisor.backend.chr.NullBackend;
import org.jvisor.devices.intc.LocalApic;
import org.jvisor.devices.intc.LocalApicState;
import org.jvisor.devices.legacy.I8259Pair;
import org.jvisor.devices.legacy.Pit8254;
import org.jvisor.devices.legacy.PicState;
import org.jvisor.devices.legacy.RtcCmos;
import org.jvisor.devices.legacy.RtcState;
import org.jvisor.devices.legacy.Serial16550;
import org.jvisor.devices.legacy.UartState;
import org.jvisor.devices.pci.PciHostBridge;
import org.jvisor.devices.pci.PciIrqRouting;
import org.jvisor.devices.virtio.VirtioBlk;
import org.jvisor.devices.virtio.VirtioPciFunction;
import org.jvisor.devices.virtio.VirtioRng;
import org.jvisor.memory.IdentityDma;
import org.jvisor.testing.BoundedDisk;

/** Restores refuse what a device could not have been in, or a state of another device, naming the field. */
class DeviceStateValidationTest {
    final TestWorld world = new TestWorld(0);

    @AfterEach
    void tearDown() {
        world.close();
    }

    static void refused(StatefulDevice<?> device, DeviceState state, String... parts) {
        DeviceState before = device.saveState();
        DeviceStateException e = assertThrows(DeviceStateException.class, () -> device.restoreAny(state));
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + e.getMessage() + "' should name " + p);
        }
        assertEquals(before, device.saveState(), "a refused restore changes nothing");
    }

    @Test
    void reservedUartBitsAreRefused() {
        Serial16550 uart = new Serial16550(new NullBackend(), world.line("irq4"));
        UartState s = uart.saveState();
        refused(uart, new UartState(s.divisor(), 0x1F, s.lcr(), s.mcr(), s.fcr(), s.scr(), s.msrDelta(),
            s.thrInterruptPending(), s.overrun(), s.received(), s.transmit()), "16550A UART", "IER 0x1f", "reserved");
        refused(uart, new UartState(0x10000, s.ier(), s.lcr(), s.mcr(), s.fcr(), s.scr(), s.msrDelta(),
            s.thrInterruptPending(), s.overrun(), s.received(), s.transmit()), "divisor");
        refused(uart, new UartState(s.divisor(), s.ier(), s.lcr(), s.mcr(), s.fcr(), s.scr(), s.msrDelta(),
            s.thrInterruptPending(), s.overrun(), s.received(), org.jvisor.devices.state.Bytes.copyOf(new byte[17])),
            "transmit FIFO bytes");
    }

    @Test
    void aStateOfAnotherDeviceKindIsRefused() {
        RtcCmos rtc = new RtcCmos(world.timers, 1_700_000_000L, 64L << 20, 0, world.line("irq8"));
        Pit8254 pit = new Pit8254(world.timers, world.line("irq0"));
        refused(rtc, pit.saveState(), "expected a RtcState, got a PitState");
        refused(rtc, null, "expected a RtcState, got nothing");
    }

    @Test
    void aCmosOfAnotherSizeIsRefused() {
        RtcCmos rtc = new RtcCmos(world.timers, 1_700_000_000L, 64L << 20, 0, world.line("irq8"));
        RtcState s = rtc.saveState();
        refused(rtc, new RtcState(Bytes.copyOf(new byte[64]), s.index(), s.nmiDisabled(), s.baseSeconds(),
            s.sinceBaseNs(), s.updatesAccounted(), s.periodsAccounted()), "CMOS has 64 entries, not 128");
    }

    @Test
    void aPicInTheMiddleOfAnImpossibleInitializationIsRefused() {
        I8259Pair pic = new I8259Pair(world.line("intr"));
        PicState s = pic.saveState();
        PicState.Chip m = s.master();
        refused(pic, new PicState(new PicState.Chip(m.irr(), m.isr(), m.imr(), m.pins(), m.elcr(), m.vectorBase(),
            m.priorityBase(), 1, m.needIcw4(), m.single(), m.levelTriggeredAll(), m.autoEoi(), m.rotateOnAutoEoi(),
            m.specialFullyNested(), m.specialMask(), m.readIsr(), m.poll()), s.slave()),
            "8259A PIC master", "initialization step 1");
    }

    @Test
    void aBspStateIsRefusedByAnApplicationProcessorsApic() {
        LocalApic bsp = new LocalApic(0, true, world.timers, world.apicBus());
        LocalApic ap = new LocalApic(1, false, world.timers, world.apicBus());
        refused(ap, bsp.saveState(), "local APIC", "BSP");
    }

    @Test
    void anArmedApicTimerWithoutACountIsRefused() {
        LocalApic lapic = new LocalApic(0, true, world.timers, world.apicBus());
        LocalApicState s = lapic.saveState();
        refused(lapic, new LocalApicState(s.apicId(), s.apicBase(), s.tpr(), s.ldr(), s.dfr(), s.svr(), s.esr(),
            s.esrPending(), s.icrLow(), s.icrHigh(), s.lvt(), s.irr(), s.isr(), s.tmr(), s.divideConfig(), 0, true,
            -100, 1000, false, 0, false, false, false, false), "timer is armed with an initial count of 0");
    }

    private VirtioPciFunction function(PciHostBridge bridge, org.jvisor.devices.virtio.VirtioDevice device) {
        VirtioPciFunction fn = new VirtioPciFunction(device, new IdentityDma(world.ram));
        bridge.add(3, fn);
        return fn;
    }

    @Test
    void aPciFunctionRefusesTheStateOfAnotherFunction() {
        PciHostBridge a = new PciHostBridge(world.io, world.memory, world.msi(), PciIrqRouting.swizzled(16),
            g -> world.line("gsi" + g));
        VirtioPciFunction rng = function(a, new VirtioRng());
        TestWorld other = new TestWorld(0);
        try (other) {
            PciHostBridge b = new PciHostBridge(other.io, other.memory, other.msi(), PciIrqRouting.swizzled(16),
                g -> other.line("gsi" + g));
            VirtioPciFunction blk = new VirtioPciFunction(
                new VirtioBlk(new BoundedDisk(other.disk, false), "d", 16, msg -> { }), new IdentityDma(other.ram));
            b.add(3, blk);
            // Device ID 0x1044 (entropy) against 0x1042 (block), at configuration offset 2.
            refused(blk, rng.saveState(), "00:03.0", "configuration byte 0x2", "not the same device");
        }
    }

    @Test
    void aDiskOfAnotherSizeIsRefused() {
        PciHostBridge a = new PciHostBridge(world.io, world.memory, world.msi(), PciIrqRouting.swizzled(16),
            g -> world.line("gsi" + g));
        VirtioPciFunction small = function(a, new VirtioBlk(new BoundedDisk(new byte[4096], false), "d", 16,
            msg -> { }));
        TestWorld other = new TestWorld(0);
        try (other) {
            PciHostBridge b = new PciHostBridge(other.io, other.memory, other.msi(), PciIrqRouting.swizzled(16),
                g -> other.line("gsi" + g));
            VirtioPciFunction big = new VirtioPciFunction(
                new VirtioBlk(new BoundedDisk(other.disk, false), "d", 16, msg -> { }), new IdentityDma(other.ram));
            b.add(3, big);
            // The configuration space matches (same device type), the disk behind it does not.
            DeviceStateException e = assertThrows(DeviceStateException.class, () -> big.restoreState(small.saveState()));
            assertTrue(e.getMessage().contains("capacity is 8 sectors in the state but the disk has 128"), e.getMessage());
        }
    }
}
