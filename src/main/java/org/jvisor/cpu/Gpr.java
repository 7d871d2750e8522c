package org.jvisor.cpu;

/** The sixteen general-purpose registers, numbered as in ModRM/REX encodings (SDM vol. 2, 2.1.5). */
public enum Gpr {
    RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15;

    private static final Gpr[] VALUES = values();

    public static Gpr of(int encoding) {
        return VALUES[encoding];
    }
}
