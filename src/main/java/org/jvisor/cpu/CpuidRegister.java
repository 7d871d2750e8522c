package org.jvisor.cpu;

/** The four registers a CPUID leaf returns (SDM vol. 2A, CPUID), read from and written into a {@link CpuidEntry}. */
public enum CpuidRegister {
    EAX, EBX, ECX, EDX;

    /** This register's value in {@code e}. */
    public int of(CpuidEntry e) {
        return switch (this) {
            case EAX -> e.eax();
            case EBX -> e.ebx();
            case ECX -> e.ecx();
            case EDX -> e.edx();
        };
    }

    /** {@code e} with this register replaced by {@code value}. */
    public CpuidEntry with(CpuidEntry e, int value) {
        return switch (this) {
            case EAX -> e.withRegs(value, e.ebx(), e.ecx(), e.edx());
            case EBX -> e.withRegs(e.eax(), value, e.ecx(), e.edx());
            case ECX -> e.withRegs(e.eax(), e.ebx(), value, e.edx());
            case EDX -> e.withRegs(e.eax(), e.ebx(), e.ecx(), value);
        };
    }
}
