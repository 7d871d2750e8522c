package org.jvisor.machine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.jvisor.cpu.VcpuState;
import org.jvisor.devices.state.Bytes;
import org.jvisor.kvm.KvmStructs;
import org.jvisor.kvm.KvmVcpuState;

/**
 * A vCPU saved by another engine as KVM's own record ("kvm-vcpuN"): the engine-neutral
 * {@link VcpuState} already holds what KVM's structs carry (x87/SSE, XCR0, debug registers, MP
 * state, events), so they are written from it; the LAPIC page comes from the vCPU's local APIC
 * record ({@link KvmLapicConversion}). The XSAVE image is the legacy FXSAVE region (Intel SDM
 * vol. 1, 10.5.1) with XSTATE_BV = x87 | SSE (13.4.2): what a CPU without AVX state holds.
 */
final class KvmVcpuConversion {
    /** FXSAVE region offsets (SDM vol. 1, table 10-2), and the XSAVE header's XSTATE_BV. */
    private static final int FCW = 0, FSW = 2, FTW = 4, FOP = 6, FIP = 8, FDP = 16, MXCSR = 24, MXCSR_MASK = 28,
        ST0 = 32, XMM0 = 160, XSTATE_BV = 512;
    private static final long XSTATE_X87_SSE = 3;
    /** DR6 and DR7's bits that always read 1 (SDM vol. 3, 17.2.3-17.2.4). */
    private static final long DR6_FIXED = 0xFFFF_0FF0L, DR7_FIXED = 0x400;

    private KvmVcpuConversion() {
    }

    static KvmVcpuState toKvm(VcpuState v, Bytes lapicPage) {
        return new KvmVcpuState(mpState(v.mpState()), xsave(v.fpu()), xcrs(v.xcr0()), debugRegisters(v),
            events(v.events()), lapicPage);
    }

    private static int mpState(VcpuState.MpState s) {
        return switch (s) {
            case RUNNABLE -> KvmStructs.MP_STATE_RUNNABLE;
            case HALTED -> KvmStructs.MP_STATE_HALTED;
            case INIT_RECEIVED -> KvmStructs.MP_STATE_INIT_RECEIVED;
        };
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The registers in the order KVM_SET_FPU takes them from the same record (KvmStateCodec.writeFpu). */
    private static Bytes xsave(VcpuState.Fpu f) {
        byte[] b = new byte[(int) KvmStructs.KVM_XSAVE_BYTES];
        ByteBuffer k = le(b);
        k.putShort(FCW, (short) f.fcw());
        k.putShort(FSW, (short) f.fsw());
        k.put(FTW, (byte) f.ftw());
        k.putShort(FOP, (short) f.fop());
        k.putLong(FIP, f.fip());
        k.putLong(FDP, f.fdp());
        k.putInt(MXCSR, f.mxcsr());
        k.putInt(MXCSR_MASK, 0xFFFF);
        for (int i = 0; i < 8; i++) {
            for (int j = 0; j < 10; j++) {
                b[ST0 + 16 * i + j] = (byte) f.registers().get(10 * i + j);
            }
        }
        for (int i = 0; i < VcpuState.Fpu.XMM_BYTES; i++) {
            b[XMM0 + i] = (byte) f.xmm().get(i);
        }
        k.putLong(XSTATE_BV, XSTATE_X87_SSE);
        return Bytes.copyOf(b);
    }

    private static Bytes xcrs(long xcr0) {
        byte[] b = new byte[(int) KvmStructs.KVM_XCRS_BYTES];
        ByteBuffer k = le(b);
        k.putInt(KvmStructs.XCRS_NR, 1);
        k.putInt(KvmStructs.XCRS_FIRST, 0);          // XCR0
        k.putLong(KvmStructs.XCRS_FIRST + 8, xcr0);
        return Bytes.copyOf(b);
    }

    private static Bytes debugRegisters(VcpuState v) {
        byte[] b = new byte[(int) KvmStructs.KVM_DEBUGREGS_BYTES];
        ByteBuffer k = le(b);
        for (int i = 0; i < 4; i++) {
            k.putLong(8 * i, v.debugRegisters().get(i));
        }
        k.putLong(KvmStructs.DEBUGREGS_DR6, v.debugRegisters().get(4) | DR6_FIXED);
        k.putLong(KvmStructs.DEBUGREGS_DR7, v.debugRegisters().get(5) | DR7_FIXED);
        return Bytes.copyOf(b);
    }

    private static Bytes events(VcpuState.Events e) {
        byte[] b = new byte[(int) KvmStructs.KVM_VCPU_EVENTS_BYTES];
        ByteBuffer k = le(b);
        if (e.exception() >= 0) {
            k.put(KvmStructs.EVENTS_EXCEPTION_INJECTED, (byte) 1);
            k.put(KvmStructs.EVENTS_EXCEPTION_NR, (byte) e.exception());
            if (e.errorCode() >= 0) {
                k.put(KvmStructs.EVENTS_EXCEPTION_HAS_ERROR, (byte) 1);
                k.putInt(KvmStructs.EVENTS_ERROR_CODE, e.errorCode());
            }
        }
        if (e.interrupt() >= 0) {
            k.put(KvmStructs.EVENTS_INTERRUPT_INJECTED, (byte) 1);
            k.put(KvmStructs.EVENTS_INTERRUPT_NR, (byte) e.interrupt());
        }
        k.put(KvmStructs.EVENTS_NMI_PENDING, (byte) (e.nmiPending() ? 1 : 0));
        k.put(KvmStructs.EVENTS_NMI_MASKED, (byte) (e.nmiMasked() ? 1 : 0));
        if (e.interruptShadow()) {
            k.put(KvmStructs.EVENTS_INTERRUPT_SHADOW, (byte) KvmStructs.SHADOW_INT_STI);
        }
        k.putInt(KvmStructs.EVENTS_FLAGS, KvmStructs.EVENTS_VALID_SHADOW);
        return Bytes.copyOf(b);
    }
}
