package org.jvisor.tcg;

/**
 * A guest exception raised while executing an instruction (SDM vol. 3, 6.3): the vector and, for
 * the vectors that push one, the error code. Thrown only on the fault path and without a stack
 * trace, so raising it is cheap; the execution loop catches it and delivers it through the IDT.
 */
public final class CpuFault extends RuntimeException {
    public static final int DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
        TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19;

    private final int vector;
    private final int errorCode;
    private final boolean hasErrorCode;
    /** For #PF: the linear address that goes to CR2 when the fault is delivered. */
    private final long address;

    public CpuFault(int vector, int errorCode, boolean hasErrorCode) {
        this(vector, errorCode, hasErrorCode, 0);
    }

    public CpuFault(int vector, int errorCode, boolean hasErrorCode, long address) {
        super(null, null, false, false);
        this.vector = vector;
        this.errorCode = errorCode;
        this.hasErrorCode = hasErrorCode;
        this.address = address;
    }

    public static CpuFault pageFault(int errorCode, long address) {
        return new CpuFault(PF, errorCode, true, address);
    }

    public long address() {
        return address;
    }

    public static CpuFault of(int vector) {
        return new CpuFault(vector, 0, false);
    }

    public static CpuFault withCode(int vector, int errorCode) {
        return new CpuFault(vector, errorCode, true);
    }

    public static CpuFault gp0() {
        return withCode(GP, 0);
    }

    public static CpuFault ud() {
        return of(UD);
    }

    public int vector() {
        return vector;
    }

    public int errorCode() {
        return errorCode;
    }

    public boolean hasErrorCode() {
        return hasErrorCode;
    }

    @Override
    public String getMessage() {
        return hasErrorCode ? String.format("#%d(%#x)", vector, errorCode) : "#" + vector;
    }
}
