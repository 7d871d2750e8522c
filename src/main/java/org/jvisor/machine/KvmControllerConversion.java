package org.jvisor.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.devices.intc.IoApicState;
import org.jvisor.devices.legacy.PicState;
import org.jvisor.devices.legacy.PitState;
import org.jvisor.devices.state.Bytes;
import org.jvisor.kvm.KvmIrqchipState;
import org.jvisor.kvm.KvmPitState;
import org.jvisor.kvm.KvmStructs;

/**
 * KVM's in-kernel 8259 pair, IOAPIC and 8254 (struct kvm_pic_state, kvm_ioapic_state and
 * kvm_pit_state2 of arch/x86/include/uapi/asm/kvm.h, as Linux's arch/x86/kvm/i8259.c, ioapic.c
 * and i8254.c use them) to and from the records of jvisor's own models, which are the
 * engine-neutral form of a PC's interrupt controllers and timer. What KVM does not model is
 * given its PC value: no single-PIC or level-all mode (KVM ignores ICW1's SNGL and LTIM), the
 * IOAPIC at 0xFEC00000, the PIT's periods restart at the restore (KVM_SET_PIT2 reloads them, as
 * jvisor does from a KVM record).
 */
final class KvmControllerConversion {
    /** KVM's i8259 read/write states (i8254.c RW_STATE_*): LSB, MSB, word with LSB next, word with MSB next. */
    private static final int RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4;
    /** kvm_pit_channel_state.mode of a channel never programmed (kvm_pit_reset). */
    private static final int PIT_UNPROGRAMMED = 0xFF;
    /** KVM_PIT_FLAGS_SPEAKER_DATA_ON. */
    private static final int PIT_SPEAKER_DATA_ON = 2;
    /** The IOAPIC's base address on a PC. */
    private static final long IOAPIC_BASE = 0xFEC0_0000L;
    /** RTE bit 15: level-triggered. */
    private static final long RTE_LEVEL = 1L << 15;
    private static final int IOAPIC_PINS = 24;

    private KvmControllerConversion() {
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    // ---- 8259 pair ----

    static PicState pic(KvmIrqchipState master, KvmIrqchipState slave) {
        return new PicState(chip(master.state().toArray()), chip(slave.state().toArray()));
    }

    private static PicState.Chip chip(byte[] k) {
        int init = k[KvmStructs.PIC_INIT_STATE] & 0xFF;
        return new PicState.Chip(k[KvmStructs.PIC_IRR] & 0xFF, k[KvmStructs.PIC_ISR] & 0xFF, k[KvmStructs.PIC_IMR] & 0xFF,
            k[KvmStructs.PIC_LAST_IRR] & 0xFF, k[KvmStructs.PIC_ELCR] & 0xFF, k[KvmStructs.PIC_IRQ_BASE] & 0xF8,
            k[KvmStructs.PIC_PRIORITY_ADD] & 7, init == 0 ? 0 : init + 1,   // KVM counts 1-3 for ICW2-4, jvisor names the ICW
            k[KvmStructs.PIC_INIT4] != 0, false, false, k[KvmStructs.PIC_AUTO_EOI] != 0,
            k[KvmStructs.PIC_ROTATE_ON_AUTO_EOI] != 0, k[KvmStructs.PIC_SPECIAL_FULLY_NESTED] != 0,
            k[KvmStructs.PIC_SPECIAL_MASK] != 0, k[KvmStructs.PIC_READ_REG_SELECT] != 0, k[KvmStructs.PIC_POLL] != 0);
    }

    static KvmIrqchipState picChip(PicState.Chip c, boolean master) {
        byte[] k = new byte[(int) KvmStructs.KVM_IRQCHIP_CHIP_BYTES];
        k[KvmStructs.PIC_LAST_IRR] = (byte) c.pins();
        k[KvmStructs.PIC_IRR] = (byte) c.irr();
        k[KvmStructs.PIC_IMR] = (byte) c.imr();
        k[KvmStructs.PIC_ISR] = (byte) c.isr();
        k[KvmStructs.PIC_PRIORITY_ADD] = (byte) c.priorityBase();
        k[KvmStructs.PIC_IRQ_BASE] = (byte) c.vectorBase();
        k[KvmStructs.PIC_READ_REG_SELECT] = (byte) (c.readIsr() ? 1 : 0);
        k[KvmStructs.PIC_POLL] = (byte) (c.poll() ? 1 : 0);
        k[KvmStructs.PIC_SPECIAL_MASK] = (byte) (c.specialMask() ? 1 : 0);
        k[KvmStructs.PIC_INIT_STATE] = (byte) (c.initStep() == 0 ? 0 : c.initStep() - 1);
        k[KvmStructs.PIC_AUTO_EOI] = (byte) (c.autoEoi() ? 1 : 0);
        k[KvmStructs.PIC_ROTATE_ON_AUTO_EOI] = (byte) (c.rotateOnAutoEoi() ? 1 : 0);
        k[KvmStructs.PIC_SPECIAL_FULLY_NESTED] = (byte) (c.specialFullyNested() ? 1 : 0);
        k[KvmStructs.PIC_INIT4] = (byte) (c.needIcw4() ? 1 : 0);
        k[KvmStructs.PIC_ELCR] = (byte) c.elcr();
        k[KvmStructs.PIC_ELCR_MASK] = (byte) (master ? 0xF8 : 0xDE);   // PIIX: IRQ 0-2, 8 and 13 are edge only
        return new KvmIrqchipState(master ? KvmIrqchipState.PIC_MASTER : KvmIrqchipState.PIC_SLAVE, Bytes.copyOf(k));
    }

    // ---- IOAPIC ----

    static IoApicState ioapic(KvmIrqchipState s) {
        ByteBuffer k = le(s.state().toArray());
        List<Long> entries = new ArrayList<>(IOAPIC_PINS);
        int level = 0;
        for (int pin = 0; pin < IOAPIC_PINS; pin++) {
            long e = k.getLong(KvmStructs.IOAPIC_REDIRTBL + 8 * pin);
            entries.add(e);
            if ((e & RTE_LEVEL) != 0) {
                level |= 1 << pin;
            }
        }
        int irr = k.getInt(KvmStructs.IOAPIC_IRR) & ((1 << IOAPIC_PINS) - 1);
        // KVM keeps a level pin's request set while its line is high: that is the line's level
        return new IoApicState(k.getInt(KvmStructs.IOAPIC_ID) & 0xF, k.getInt(KvmStructs.IOAPIC_IOREGSEL) & 0xFF,
            entries, irr & level, irr);
    }

    static KvmIrqchipState ioapic(IoApicState s) {
        byte[] b = new byte[(int) KvmStructs.KVM_IRQCHIP_CHIP_BYTES];
        ByteBuffer k = le(b);
        int level = 0;
        for (int pin = 0; pin < IOAPIC_PINS; pin++) {
            long e = s.redirectionEntries().get(pin);
            k.putLong(KvmStructs.IOAPIC_REDIRTBL + 8 * pin, e);
            if ((e & RTE_LEVEL) != 0) {
                level |= 1 << pin;
            }
        }
        k.putLong(KvmStructs.IOAPIC_BASE_ADDRESS, IOAPIC_BASE);
        k.putInt(KvmStructs.IOAPIC_IOREGSEL, s.ioregsel());
        k.putInt(KvmStructs.IOAPIC_ID, s.id());
        k.putInt(KvmStructs.IOAPIC_IRR, s.irr() | s.pinLevels() & level);
        return new KvmIrqchipState(KvmIrqchipState.IOAPIC, Bytes.copyOf(b));
    }

    // ---- 8254 ----

    static PitState pit(KvmPitState s) {
        ByteBuffer k = le(s.state().toArray());
        List<PitState.Channel> channels = new ArrayList<>(3);
        for (int ch = 0; ch < 3; ch++) {
            int at = ch * KvmStructs.PIT_CHANNEL_BYTES;
            int mode = k.get(at + KvmStructs.PIT_MODE) & 0xFF;
            boolean gate = k.get(at + KvmStructs.PIT_GATE) != 0;
            if (mode == PIT_UNPROGRAMMED) {   // as after jvisor's reset: no count loaded
                channels.add(new PitState.Channel(0, 3, false, 0, 0x10000, 0, false, false, gate, false, 0, true,
                    false, 0, false, false, 0, false, false, 0));
                continue;
            }
            long count = Integer.toUnsignedLong(k.getInt(at + KvmStructs.PIT_COUNT));
            int access = k.get(at + KvmStructs.PIT_RW_MODE) & 3;
            int countLatched = k.get(at + KvmStructs.PIT_COUNT_LATCHED) & 0xFF;
            channels.add(new PitState.Channel(mode, access == 0 ? 3 : access, k.get(at + KvmStructs.PIT_BCD) != 0,
                (int) (count & 0xFFFF), count == 0 || count > 0x10000 ? 0x10000 : count, 0, true, false, gate, false, 0,
                false, (k.get(at + KvmStructs.PIT_WRITE_STATE) & 0xFF) == RW_WORD1,
                k.get(at + KvmStructs.PIT_WRITE_LATCH) & 0xFF, (k.get(at + KvmStructs.PIT_READ_STATE) & 0xFF) == RW_WORD1,
                countLatched != 0, k.getShort(at + KvmStructs.PIT_LATCHED_COUNT) & 0xFFFF, countLatched == RW_WORD1,
                k.get(at + KvmStructs.PIT_STATUS_LATCHED) != 0, k.get(at + KvmStructs.PIT_STATUS) & 0xFF));
        }
        boolean speaker = (k.getInt(KvmStructs.PIT_FLAGS) & PIT_SPEAKER_DATA_ON) != 0;
        return new PitState(channels, speaker);
    }

    static KvmPitState pit(PitState s) {
        byte[] b = new byte[(int) KvmStructs.KVM_PIT_STATE2_BYTES];
        ByteBuffer k = le(b);
        for (int ch = 0; ch < 3; ch++) {
            PitState.Channel c = s.channels().get(ch);
            int at = ch * KvmStructs.PIT_CHANNEL_BYTES;
            k.put(at + KvmStructs.PIT_GATE, (byte) (c.gate() ? 1 : 0));
            if (!c.loaded() && c.countRegister() == 0 && c.mode() == 0) {
                k.put(at + KvmStructs.PIT_MODE, (byte) PIT_UNPROGRAMMED);
                continue;
            }
            int access = c.access();
            k.putInt(at + KvmStructs.PIT_COUNT, (int) c.initial());
            k.putShort(at + KvmStructs.PIT_LATCHED_COUNT, (short) c.latchedCount());
            k.put(at + KvmStructs.PIT_COUNT_LATCHED, (byte) (!c.countLatched() ? 0
                : access == 3 ? (c.latchedMsbNext() ? RW_WORD1 : RW_WORD0) : access));
            k.put(at + KvmStructs.PIT_STATUS_LATCHED, (byte) (c.statusLatched() ? 1 : 0));
            k.put(at + KvmStructs.PIT_STATUS, (byte) c.latchedStatus());
            k.put(at + KvmStructs.PIT_READ_STATE, (byte) (access == 3 ? (c.readMsbNext() ? RW_WORD1 : RW_WORD0)
                : access == 1 ? RW_LSB : RW_MSB));
            k.put(at + KvmStructs.PIT_WRITE_STATE, (byte) (access == 3 ? (c.writeMsbNext() ? RW_WORD1 : RW_WORD0)
                : access == 1 ? RW_LSB : RW_MSB));
            k.put(at + KvmStructs.PIT_WRITE_LATCH, (byte) c.writeLsb());
            k.put(at + KvmStructs.PIT_RW_MODE, (byte) access);
            k.put(at + KvmStructs.PIT_MODE, (byte) c.mode());
            k.put(at + KvmStructs.PIT_BCD, (byte) (c.bcd() ? 1 : 0));
        }
        k.putInt(KvmStructs.PIT_FLAGS, s.speakerData() ? PIT_SPEAKER_DATA_ON : 0);
        return new KvmPitState(Bytes.copyOf(b));
    }
}
