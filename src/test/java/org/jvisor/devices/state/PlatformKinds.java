package org.jvisor.devices.state;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.backend.chr.NullBackend;
import org.jvisor.devices.acpi.AcpiPm;
import org.jvisor.devices.acpi.ResetControl;
import org.jvisor.devices.intc.ApicBus.DeliveryMode;
import org.jvisor.devices.intc.IoApic;
import org.jvisor.devices.intc.LocalApic;
import org.jvisor.devices.legacy.I8042;
import org.jvisor.devices.legacy.I8259Pair;
import org.jvisor.devices.legacy.Pit8254;
import org.jvisor.devices.legacy.RtcCmos;
import org.jvisor.devices.legacy.Serial16550;
import org.jvisor.devices.legacy.SystemControlPortA;
import org.jvisor.devices.fwcfg.FwCfg;
import org.jvisor.devices.fwcfg.FwCfgItems;
import org.jvisor.memory.IdentityDma;

/** The PC platform devices, each driven as a guest (and the host side) would drive it. */
final class PlatformKinds {
    private PlatformKinds() {
    }

    static List<DeviceKind<?>> all() {
        return List.of(uart(), i8042(), rtc(), pit(), pic(), ioapic(), lapic(), acpiPm(), resetControl(), portA(),
            fwCfg());
    }

    /** Divisor latch set, FIFOs on, bytes received and one read, THRE raised, RLS/RDA enabled. */
    static DeviceKind<Serial16550> uart() {
        return new DeviceKind<>("16550A UART", w -> new Serial16550(new NullBackend(), w.line("irq4")),
            (u, w) -> {
                u.write(3, 1, 0x80);      // DLAB
                u.write(0, 1, 0x01);      // 115200 baud
                u.write(1, 1, 0x00);
                u.write(3, 1, 0x03);      // 8N1
                u.write(2, 1, 0xC7);      // FIFOs on and cleared, 14-byte trigger
                u.write(1, 1, 0x07);      // RDA, THRE and RLS interrupts: THRE rises at once
                u.write(4, 1, 0x0B);      // DTR, RTS, OUT2
                u.write(7, 1, 0x5A);
                byte[] in = "hello".getBytes(StandardCharsets.US_ASCII);
                u.receive(in, in.length);
                u.read(0, 1);             // the guest takes the 'h'
            },
            (u, w) -> {
                List<Object> seen = new ArrayList<>();
                seen.add(u.read(2, 1));   // IIR: received data first
                for (int i = 0; i < 5; i++) {
                    seen.add(u.read(5, 1));
                    seen.add(u.read(0, 1));
                }
                seen.add(u.read(2, 1));   // then THRE, which this read clears
                seen.add(u.read(2, 1));
                for (int r : new int[] {1, 3, 4, 6, 7}) {
                    seen.add(u.read(r, 1));
                }
                u.write(3, 1, 0x83);
                seen.add(u.read(0, 1));
                seen.add(u.read(1, 1));
                u.write(3, 1, 0x03);
                u.write(0, 1, 'x');
                seen.add(u.read(2, 1));
                return seen;
            });
    }

    /** Command byte rewritten, keyboard LEDs set, aux loop-back and key bytes queued, a 0xD1 awaiting its data. */
    static DeviceKind<I8042> i8042() {
        return new DeviceKind<>("i8042", w -> new I8042(w.control(), w.line("irq1"), w.line("irq12"), true),
            (k, w) -> {
                k.write(4, 1, 0x60);
                k.write(0, 1, 0x47);      // both interrupts, system flag, translation
                k.write(0, 1, 0xED);      // keyboard: set LEDs (acknowledged)...
                k.write(0, 1, 0x02);      // ...caps lock (acknowledged)
                k.write(4, 1, 0xD3);
                k.write(0, 1, 0x5A);      // aux loop-back
                k.keyboardInput(0x1C);
                k.keyboardInput(0x9C);
                k.read(0, 1);             // the guest takes the first byte
                k.write(4, 1, 0xD1);      // write output port: the data byte is still to come
            },
            (k, w) -> {
                List<Object> seen = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    long status = k.read(4, 1);
                    seen.add(status);
                    if ((status & I8042.STATUS_OBF) != 0) {
                        seen.add(k.read(0, 1));
                    }
                }
                k.write(0, 1, 0x03);      // the 0xD1 data: A20 on, reset line high
                seen.add(k.a20());
                seen.add(k.leds());
                k.write(4, 1, 0x20);
                seen.add(k.read(4, 1));
                seen.add(k.read(0, 1));
                return seen;
            });
    }

    /** Update and alarm interrupts on with an every-second alarm, a CMOS byte written, flags pending, IRQ8 up. */
    static DeviceKind<RtcCmos> rtc() {
        return new DeviceKind<>("MC146818A RTC",
            w -> new RtcCmos(w.timers, 1_700_000_000L, 64L << 20, 0, w.line("irq8")),
            (r, w) -> {
                r.write(0, 1, RtcCmos.REG_B);
                r.write(1, 1, RtcCmos.B_24H | RtcCmos.B_AIE | RtcCmos.B_UIE);
                for (int reg : new int[] {RtcCmos.REG_SECONDS_ALARM, RtcCmos.REG_MINUTES_ALARM, RtcCmos.REG_HOURS_ALARM}) {
                    r.write(0, 1, reg);
                    r.write(1, 1, 0xC0); // don't care: the alarm rings every second
                }
                r.write(0, 1, 0x40);
                r.write(1, 1, 0x77);
                w.advance(1_500_000_000L);
                r.write(0, 1, 0x80 | RtcCmos.REG_A); // NMIs off, register A selected
            },
            (r, w) -> {
                List<Object> seen = new ArrayList<>();
                seen.add(r.read(1, 1));
                w.advance(700_000_000L);
                r.write(0, 1, RtcCmos.REG_C);
                seen.add(r.read(1, 1));
                seen.add(r.read(1, 1));
                w.advance(1_000_000_000L);
                seen.add(r.read(1, 1));
                for (int reg : new int[] {RtcCmos.REG_SECONDS, RtcCmos.REG_MINUTES, RtcCmos.REG_YEAR, 0x40}) {
                    r.write(0, 1, reg);
                    seen.add(r.read(1, 1));
                }
                seen.add(r.nmiDisabled());
                return seen;
            });
    }

    /** Channel 0 counting in mode 2 at 1 kHz for 2.5 ms, channel 2 in mode 0 gated on, a count latch half read. */
    static DeviceKind<Pit8254> pit() {
        return new DeviceKind<>("8254 PIT", w -> new Pit8254(w.timers, w.line("irq0")),
            (p, w) -> {
                p.write(3, 1, 0x34);      // channel 0: LSB then MSB, mode 2
                p.write(0, 1, 0xA9);
                p.write(0, 1, 0x04);      // 1193 clocks: 1 ms
                p.write(3, 1, 0xB0);      // channel 2: LSB then MSB, mode 0
                p.write(2, 1, 0xFF);
                p.write(2, 1, 0xFF);
                p.writePort61(0x03);      // gate 2 high, speaker data
                w.advance(2_500_000);
                p.write(3, 1, 0x00);      // latch channel 0
                p.read(0, 1);             // the latch's LSB; its MSB is next
            },
            (p, w) -> {
                List<Object> seen = new ArrayList<>();
                seen.add(p.read(0, 1));
                w.advance(1_700_000);
                seen.add(p.read(0, 1));
                seen.add(p.read(0, 1));
                p.write(3, 1, 0xE2);      // read-back: status of channel 0
                seen.add(p.read(0, 1));
                seen.add(p.readPort61() & ~0x10); // bit 4 is the refresh toggle of the host's absolute time
                p.write(3, 1, 0x80);      // latch channel 2
                seen.add(p.read(2, 1));
                seen.add(p.read(2, 1));
                seen.add(p.mode(0));
                return seen;
            });
    }

    /** Both chips initialized, IRQ1 in service, IRQ0 requesting (INTR up), the slave's IRQ8 behind them, a masked level IRQ3. */
    static DeviceKind<I8259Pair> pic() {
        return new DeviceKind<>("8259A PIC pair", w -> new I8259Pair(w.line("intr")),
            (p, w) -> {
                p.write(0, 1, 0x11);
                p.write(1, 1, 0x20);
                p.write(1, 1, 0x04);
                p.write(1, 1, 0x01);
                p.write(0x80, 1, 0x11);
                p.write(0x81, 1, 0x28);
                p.write(0x81, 1, 0x02);
                p.write(0x81, 1, 0x01);
                p.write(1, 1, 0xF8);      // IRQ0-2 unmasked
                p.write(0x81, 1, 0xFE);   // IRQ8 unmasked
                p.write(0x4B0, 1, 0x08);  // IRQ3 level-triggered
                p.setIrq(1, true);
                w.log("acknowledged " + p.acknowledge());
                p.setIrq(8, true);        // waits behind IRQ1
                p.setIrq(3, true);        // masked
                p.setIrq(0, true);        // above IRQ1: INTR is up at the save
                p.write(0, 1, 0x0B);      // OCW3: reads return ISR
            },
            (p, w) -> {
                List<Object> seen = new ArrayList<>();
                seen.add(p.read(0, 1));
                seen.add(p.intr());
                seen.add(p.acknowledge()); // IRQ0
                p.write(0, 1, 0x20);      // EOI of IRQ0
                p.write(0, 1, 0x20);      // EOI of IRQ1: the cascade's request comes through
                seen.add(p.intr());
                seen.add(p.acknowledge());
                p.write(0, 1, 0x0A);
                seen.add(p.read(0, 1));
                p.write(1, 1, 0xF0);      // unmask IRQ3
                p.write(0x80, 1, 0x20);
                p.write(0, 1, 0x20);
                seen.add(p.acknowledge());
                seen.add(p.read(0x4B0, 1));
                seen.add(p.read(1, 1));
                return seen;
            });
    }

    private static void ioapicRegister(IoApic a, int reg, int value) {
        a.write(0x00, 4, reg);
        a.write(0x10, 4, value & 0xFFFF_FFFFL);
    }

    /** An edge and a level pin programmed and fired (the level one awaiting its EOI), a masked pin with a pending edge. */
    static DeviceKind<IoApic> ioapic() {
        return new DeviceKind<>("IOAPIC", w -> new IoApic(0, w.apicBus()),
            (a, w) -> {
                ioapicRegister(a, 0x10 + 2 * 4, 0x31);                 // pin 4: edge, vector 0x31
                ioapicRegister(a, 0x10 + 2 * 9, 0x39 | 1 << 15);       // pin 9: level, vector 0x39...
                ioapicRegister(a, 0x11 + 2 * 9, 1 << 24);              // ...to APIC 1
                ioapicRegister(a, 0x10 + 2 * 5, 0x35 | 1 << 16);       // pin 5: masked
                a.setIrq(9, true);
                a.setIrq(5, true);
                a.setIrq(4, true);
                a.setIrq(4, false);
                a.write(0x00, 4, 0x12);
            },
            (a, w) -> {
                List<Object> seen = new ArrayList<>();
                seen.add(a.read(0x10, 4));
                a.eoi(0x39);                                           // pin 9 still high: sent again
                ioapicRegister(a, 0x10 + 2 * 5, 0x35);                 // unmask pin 5: its edge goes out
                for (int reg = 0; reg < 0x40; reg++) {
                    a.write(0x00, 4, reg);
                    seen.add(a.read(0x10, 4));
                }
                return seen;
            });
    }

    /** Enabled, TPR set, a periodic timer firing every 1 ms, a vector in service, a level vector and timer ticks pending. */
    static DeviceKind<LocalApic> lapic() {
        return new DeviceKind<>("local APIC", w -> new LocalApic(0, true, w.timers, w.apicBus()),
            (l, w) -> {
                l.write(LocalApic.REG_SVR, 4, 0x1FF);
                l.write(LocalApic.REG_TPR, 4, 0x20);
                l.write(LocalApic.REG_TIMER_DIVIDE, 4, 0xB);            // divide by 1
                l.write(LocalApic.REG_LVT_TIMER, 4, 1 << 17 | 0x40);    // periodic, vector 0x40
                l.write(LocalApic.REG_TIMER_INITIAL, 4, 1_000_000);     // 1 ms
                l.write(LocalApic.REG_LVT_ERROR, 4, 0xFE);
                l.accept(DeliveryMode.FIXED, 0x50, true, false);
                w.log("acknowledged " + l.acknowledgeInterrupt());
                l.accept(DeliveryMode.FIXED, 0x60, true, true);
                w.advance(2_500_000);
                l.write(LocalApic.REG_ICR_HIGH, 4, 1 << 24);
                l.write(LocalApic.REG_ICR_LOW, 4, 0x4070);              // fixed IPI 0x70 to APIC 1
            },
            (l, w) -> {
                List<Object> seen = new ArrayList<>();
                seen.add(l.read(LocalApic.REG_TIMER_CURRENT, 4));
                seen.add(l.read(LocalApic.REG_PPR, 4));
                for (int i = 0; i < 8; i++) {
                    seen.add(l.read(LocalApic.REG_IRR + 16 * i, 4));
                    seen.add(l.read(LocalApic.REG_ISR + 16 * i, 4));
                    seen.add(l.read(LocalApic.REG_TMR + 16 * i, 4));
                }
                w.advance(1_300_000);
                for (int i = 0; i < 6; i++) {
                    seen.add(l.acknowledgeInterrupt());
                    l.write(LocalApic.REG_EOI, 4, 0);
                }
                seen.add(l.timerDeadline() - w.clock.nanos());
                seen.add(l.read(LocalApic.REG_ICR_LOW, 4));
                return seen;
            });
    }

    /** Power button enabled and pressed (SCI up), a sleep type written without SLP_EN, the PM timer at 3 s. */
    static DeviceKind<AcpiPm> acpiPm() {
        return new DeviceKind<>("ACPI PM", w -> new AcpiPm(w.control(), w.line("sci"), w.timers),
            (a, w) -> {
                a.write(2, 2, AcpiPm.PWRBTN_EN);
                a.pressPowerButton();
                a.write(4, 2, AcpiPm.SLP_TYP_S5 << AcpiPm.SLP_TYP_SHIFT | AcpiPm.BM_RLD);
                w.advance(3_000_000_000L);
            },
            (a, w) -> {
                List<Object> seen = new ArrayList<>();
                seen.add(a.read(8, 4));
                seen.add(a.read(0, 2));
                seen.add(a.read(2, 2));
                seen.add(a.read(4, 2));
                a.write(0, 2, AcpiPm.PWRBTN_STS);
                seen.add(a.read(0, 2));
                w.advance(1_000_000_000L);
                seen.add(a.read(8, 4));
                return seen;
            });
    }

    /** SYS_RST and FULL_RST written without RST_CPU. */
    static DeviceKind<ResetControl> resetControl() {
        return new DeviceKind<>("reset control", w -> new ResetControl(w.control()),
            (r, w) -> r.write(0, 1, ResetControl.SYS_RST | ResetControl.FULL_RST),
            (r, w) -> {
                List<Object> seen = new ArrayList<>();
                seen.add(r.read(0, 1));
                r.write(0, 1, ResetControl.RESET_VALUE);
                seen.add(r.read(0, 1));
                return seen;
            });
    }

    /** A20 on; a fast reset asked. */
    static DeviceKind<SystemControlPortA> portA() {
        return new DeviceKind<>("port 0x92", w -> new SystemControlPortA(w.control(), enabled -> { }),
            (p, w) -> p.write(0, 1, 0x02),
            (p, w) -> {
                List<Object> seen = new ArrayList<>();
                seen.add(p.read(0, 1));
                p.write(0, 1, 0x03);
                seen.add(p.read(0, 1));
                return seen;
            });
    }

    /** The signature selected and two bytes of it read. */
    static DeviceKind<FwCfg> fwCfg() {
        return new DeviceKind<>("fw_cfg", w -> new FwCfg(new FwCfgItems().file("etc/x", new byte[] {7, 8}),
                new IdentityDma(w.ram)),
            (f, w) -> {
                f.write(0, 2, FwCfgItems.SIGNATURE);
                f.read(1, 1);
                f.read(1, 1);
            },
            (f, w) -> List.of(f.read(1, 1), f.read(1, 1), f.read(1, 1)));
    }
}
