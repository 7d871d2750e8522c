package org.jvisor.kvm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.jvisor.cpu.CpuidEntry;

/** Reads and writes kvm_cpuid_entry2. */
final class CpuidCodec {
    /** KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the entry is specific to one subleaf. */
    static final int FLAG_SIGNIFICANT_INDEX = 1;

    private static final long FUNCTION = KvmStructs.offset(KvmStructs.KVM_CPUID_ENTRY2, "function");
    private static final long INDEX = KvmStructs.offset(KvmStructs.KVM_CPUID_ENTRY2, "index");
    private static final long FLAGS = KvmStructs.offset(KvmStructs.KVM_CPUID_ENTRY2, "flags");
    private static final long EAX = KvmStructs.offset(KvmStructs.KVM_CPUID_ENTRY2, "eax");

    private CpuidCodec() {
    }

    static CpuidEntry read(MemorySegment s, long at) {
        int flags = s.get(ValueLayout.JAVA_INT, at + FLAGS);
        return new CpuidEntry(s.get(ValueLayout.JAVA_INT, at + FUNCTION), s.get(ValueLayout.JAVA_INT, at + INDEX),
            (flags & FLAG_SIGNIFICANT_INDEX) != 0,
            s.get(ValueLayout.JAVA_INT, at + EAX), s.get(ValueLayout.JAVA_INT, at + EAX + 4),
            s.get(ValueLayout.JAVA_INT, at + EAX + 8), s.get(ValueLayout.JAVA_INT, at + EAX + 12));
    }

    static void write(MemorySegment s, long at, CpuidEntry e) {
        s.asSlice(at, KvmStructs.KVM_CPUID_ENTRY2.byteSize()).fill((byte) 0);
        s.set(ValueLayout.JAVA_INT, at + FUNCTION, e.function());
        s.set(ValueLayout.JAVA_INT, at + INDEX, e.index());
        s.set(ValueLayout.JAVA_INT, at + FLAGS, e.indexed() ? FLAG_SIGNIFICANT_INDEX : 0);
        s.set(ValueLayout.JAVA_INT, at + EAX, e.eax());
        s.set(ValueLayout.JAVA_INT, at + EAX + 4, e.ebx());
        s.set(ValueLayout.JAVA_INT, at + EAX + 8, e.ecx());
        s.set(ValueLayout.JAVA_INT, at + EAX + 12, e.edx());
    }
}
