package org.jvisor.cpu;

/** One CPUID leaf/subleaf and the four registers it returns (SDM vol. 2, CPUID). */
public record CpuidEntry(int function, int index, boolean indexed, int eax, int ebx, int ecx, int edx) {

    public CpuidEntry withRegs(int a, int b, int c, int d) {
        return new CpuidEntry(function, index, indexed, a, b, c, d);
    }
}
