package org.jvisor.tcg.diff;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import org.jvisor.sys.Mman;
import org.jvisor.sys.SysException;

/**
 * The oracle: runs a snippet of x86-64 machine code on the host CPU. Code and data live at fixed,
 * low host addresses ({@link #codeBase()}, {@link #dataBase()}) so the tcg side can place the same
 * bytes at the same guest-physical (identity-mapped) addresses; then addresses in registers,
 * RIP-relative operands and LEA results are identical on both sides and compare directly.
 *
 * <p>A hand-assembled trampoline at the start of the code area saves the callee-saved registers,
 * loads RAX..R15 (not RSP: the snippet runs on the host stack and must not use it) and RFLAGS from a
 * register block, jumps to the snippet; the epilogue copied right after the snippet stores every
 * register and RFLAGS back, clears DF and returns.
 */
final class NativeCpu {
    /**
     * Register array: 16 GPRs (Gpr order), RFLAGS, XMM0..15 (low, high quadword each), MXCSR. In
     * the native block the XMM registers start at byte 144 (16-aligned), MXCSR is at 400 and the
     * MXCSR the host gets back at 404.
     */
    static final int FLAGS_SLOT = 16;
    static final int XMM_SLOT = 17;
    static final int MXCSR_SLOT = 49;
    static final int BLOCK_LONGS = 50;
    private static final int BLOCK_XMM = 144, BLOCK_MXCSR = 400, BLOCK_MXCSR_HOST = 404, BLOCK_BYTES = 416;
    /** MXCSR bits a snippet may be entered with (flags, DAZ, RC, FTZ); all exceptions stay masked. */
    static final long INPUT_MXCSR = 0x3F | 0x40 | 0x6000 | 0x8000;
    static final int MXCSR_DEFAULT = 0x1F80;
    /** Size of the code area; snippets go anywhere at or above {@link #SNIPPET_MIN}. */
    static final long CODE_SIZE = 0x10000;
    static final long SNIPPET_MIN = 0x800;
    static final long DATA_SIZE = 0x2000;
    /** Flags a snippet may be entered with: the arithmetic flags and DF. */
    static final long INPUT_FLAGS = 0x8D5L | 0x400L;

    /** Low, so the guest needs little RAM; the first free one is taken (never replacing a mapping). */
    private static final long[] CANDIDATES = {
        0x0040_0000L, 0x0100_0000L, 0x0400_0000L, 0x1000_0000L, 0x2000_0000L, 0x3000_0000L, 0x0800_0000L,
    };

    // push rbx/rbp/r12-r15/rdi; push [rdi+128]; popfq; mov regs from [rdi]; mov rdi,[rdi+56]; jmp rel32
    private static final int[] PROLOGUE_GPR = {
        0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, 0x57, 0xff,
        0xb7, 0x80, 0x00, 0x00, 0x00, 0x9d, 0x48, 0x8b, 0x07, 0x48, 0x8b, 0x4f,
        0x08, 0x48, 0x8b, 0x57, 0x10, 0x48, 0x8b, 0x5f, 0x18, 0x48, 0x8b, 0x6f,
        0x28, 0x48, 0x8b, 0x77, 0x30, 0x4c, 0x8b, 0x47, 0x40, 0x4c, 0x8b, 0x4f,
        0x48, 0x4c, 0x8b, 0x57, 0x50, 0x4c, 0x8b, 0x5f, 0x58, 0x4c, 0x8b, 0x67,
        0x60, 0x4c, 0x8b, 0x6f, 0x68, 0x4c, 0x8b, 0x77, 0x70, 0x4c, 0x8b, 0x7f,
        0x78, 0x48, 0x8b, 0x7f, 0x38, 0xe9,
    };
    // push rdi; mov rdi,[rsp+8]; mov [rdi+8*i],reg...; pop rax; mov [rdi+56],rax; pushfq; pop rax;
    // mov [rdi+128],rax; cld; pop rdi; pop r15-r12/rbp/rbx; ret
    private static final int[] EPILOGUE_GPR = {
        0x57, 0x48, 0x8b, 0x7c, 0x24, 0x08,
        0x48, 0x89, 0x07, 0x48, 0x89, 0x4f, 0x08, 0x48, 0x89, 0x57, 0x10, 0x48,
        0x89, 0x5f, 0x18, 0x48, 0x89, 0x6f, 0x28, 0x48, 0x89, 0x77, 0x30, 0x4c,
        0x89, 0x47, 0x40, 0x4c, 0x89, 0x4f, 0x48, 0x4c, 0x89, 0x57, 0x50, 0x4c,
        0x89, 0x5f, 0x58, 0x4c, 0x89, 0x67, 0x60, 0x4c, 0x89, 0x6f, 0x68, 0x4c,
        0x89, 0x77, 0x70, 0x4c, 0x89, 0x7f, 0x78, 0x58, 0x48, 0x89, 0x47, 0x38,
        0x9c, 0x58, 0x48, 0x89, 0x87, 0x80, 0x00, 0x00, 0x00, 0xfc, 0x5f, 0x41,
        0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3,
    };

    /** Where the XMM/MXCSR loads go in the prologue (after POPFQ) and the stores in the epilogue (before CLD). */
    private static final int PROLOGUE_SPLIT = 18, EPILOGUE_SPLIT = 75;
    private static final int[] PROLOGUE = splice(PROLOGUE_GPR, PROLOGUE_SPLIT, vectorLoads());
    private static final int[] EPILOGUE = splice(EPILOGUE_GPR, EPILOGUE_SPLIT, vectorStores());

    /** movdqu xmmN, [rdi+144+16N] (F3 [44] 0F 6F /r disp32) for N = 0..15; ldmxcsr [rdi+400]. */
    private static int[] vectorLoads() {
        java.util.List<Integer> b = new java.util.ArrayList<>();
        for (int i = 0; i < 16; i++) {
            movdqu(b, 0x6F, i);
        }
        mxcsrOp(b, 2, BLOCK_MXCSR);
        return b.stream().mapToInt(Integer::intValue).toArray();
    }

    /** movdqu [rdi+144+16N], xmmN; stmxcsr [rdi+400]; ldmxcsr [rdi+404] (the host's MXCSR back). */
    private static int[] vectorStores() {
        java.util.List<Integer> b = new java.util.ArrayList<>();
        for (int i = 0; i < 16; i++) {
            movdqu(b, 0x7F, i);
        }
        mxcsrOp(b, 3, BLOCK_MXCSR);
        mxcsrOp(b, 2, BLOCK_MXCSR_HOST);
        return b.stream().mapToInt(Integer::intValue).toArray();
    }

    private static void movdqu(java.util.List<Integer> b, int opcode, int xmm) {
        b.add(0xF3);
        if (xmm >= 8) {
            b.add(0x44); // REX.R
        }
        b.add(0x0F);
        b.add(opcode);
        b.add(0x80 | (xmm & 7) << 3 | 7); // mod=10 (disp32), rm=rdi
        disp32(b, BLOCK_XMM + 16 * xmm);
    }

    private static void mxcsrOp(java.util.List<Integer> b, int ext, int disp) {
        b.add(0x0F);
        b.add(0xAE);
        b.add(0x80 | ext << 3 | 7); // /2 ldmxcsr, /3 stmxcsr, [rdi+disp32]
        disp32(b, disp);
    }

    private static void disp32(java.util.List<Integer> b, int v) {
        for (int i = 0; i < 4; i++) {
            b.add(v >>> (8 * i) & 0xFF);
        }
    }

    private static int[] splice(int[] base, int at, int[] insert) {
        int[] out = new int[base.length + insert.length];
        System.arraycopy(base, 0, out, 0, at);
        System.arraycopy(insert, 0, out, at, insert.length);
        System.arraycopy(base, at, out, at + insert.length, base.length - at);
        return out;
    }

    private static NativeCpu instance;

    private final long codeBase;
    private final MemorySegment code;
    private final MemorySegment data;
    private final MemorySegment block;
    private final MethodHandle entry;
    private final boolean rwx;

    private NativeCpu(long codeBase, MemorySegment area, boolean rwx) {
        this.codeBase = codeBase;
        this.code = area.asSlice(0, CODE_SIZE);
        this.data = area.asSlice(CODE_SIZE, DATA_SIZE);
        this.rwx = rwx;
        this.block = Arena.global().allocate(BLOCK_BYTES, 16);
        for (int i = 0; i < PROLOGUE.length; i++) {
            code.set(ValueLayout.JAVA_BYTE, i, (byte) PROLOGUE[i]);
        }
        Linker linker = Linker.nativeLinker();
        this.entry = linker.downcallHandle(MemorySegment.ofAddress(codeBase),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    }

    /** The process-wide instance (the fixed addresses can be mapped only once). */
    static synchronized NativeCpu get() {
        if (instance == null) {
            instance = create();
        }
        return instance;
    }

    private static NativeCpu create() {
        long size = CODE_SIZE + DATA_SIZE;
        SysException last = null;
        for (boolean rwx : new boolean[] {true, false}) {
            int prot = Mman.PROT_READ | Mman.PROT_WRITE | (rwx ? Mman.PROT_EXEC : 0);
            for (long want : CANDIDATES) {
                MemorySegment got;
                try {
                    got = Mman.mapAt(want, size, prot, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED_NOREPLACE, -1, 0);
                } catch (SysException e) {
                    last = e; // taken (EEXIST), or no executable anonymous memory here (EPERM, EACCES)
                    continue;
                }
                if (got.address() != want) { // old kernel: the flag was only a hint
                    try {
                        Mman.unmap(got);
                    } catch (SysException e) {
                        throw new IllegalStateException("cannot unmap the misplaced native test area", e);
                    }
                    continue;
                }
                return new NativeCpu(want, got, rwx);
            }
        }
        throw new IllegalStateException("cannot map the native test area at any fixed low address", last);
    }

    long codeBase() {
        return codeBase;
    }

    long dataBase() {
        return codeBase + CODE_SIZE;
    }

    /** The data area as the snippet sees it: fill it before {@link #run}, read it after. */
    MemorySegment data() {
        return data;
    }

    /**
     * Runs {@code snippet} placed at {@code codeBase() + offset} with the given register block
     * (16 GPRs then RFLAGS; RSP is ignored) and writes the resulting registers back into it.
     * The RSP slot comes back unchanged.
     */
    void run(long[] regs, byte[] snippet, long offset) {
        if (offset < SNIPPET_MIN || offset + snippet.length + EPILOGUE.length > CODE_SIZE) {
            throw new IllegalArgumentException("snippet does not fit at offset " + offset);
        }
        if (!rwx) {
            protect(Mman.PROT_READ | Mman.PROT_WRITE);
        }
        int rel = (int) (offset - PROLOGUE.length - 4);
        code.set(ValueLayout.JAVA_INT_UNALIGNED, PROLOGUE.length, rel);
        MemorySegment.copy(snippet, 0, code, ValueLayout.JAVA_BYTE, offset, snippet.length);
        for (int i = 0; i < EPILOGUE.length; i++) {
            code.set(ValueLayout.JAVA_BYTE, offset + snippet.length + i, (byte) EPILOGUE[i]);
        }
        if (!rwx) {
            protect(Mman.PROT_READ | Mman.PROT_EXEC);
        }
        long rsp = regs[4];
        for (int i = 0; i < 16; i++) {
            block.setAtIndex(ValueLayout.JAVA_LONG, i, regs[i]);
        }
        block.setAtIndex(ValueLayout.JAVA_LONG, FLAGS_SLOT, (regs[FLAGS_SLOT] & INPUT_FLAGS) | 2);
        for (int i = 0; i < 32; i++) {
            block.set(ValueLayout.JAVA_LONG, BLOCK_XMM + 8L * i, regs[XMM_SLOT + i]);
        }
        block.set(ValueLayout.JAVA_INT, BLOCK_MXCSR, inputMxcsr(regs[MXCSR_SLOT]));
        block.set(ValueLayout.JAVA_INT, BLOCK_MXCSR_HOST, MXCSR_DEFAULT);
        try {
            entry.invokeExact(block);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        for (int i = 0; i <= FLAGS_SLOT; i++) {
            regs[i] = block.getAtIndex(ValueLayout.JAVA_LONG, i);
        }
        for (int i = 0; i < 32; i++) {
            regs[XMM_SLOT + i] = block.get(ValueLayout.JAVA_LONG, BLOCK_XMM + 8L * i);
        }
        regs[MXCSR_SLOT] = block.get(ValueLayout.JAVA_INT, BLOCK_MXCSR) & 0xFFFF_FFFFL;
        regs[4] = rsp;
    }

    /** The MXCSR a snippet starts with: exceptions masked whatever the case asked for. */
    static int inputMxcsr(long m) {
        return (int) (m & INPUT_MXCSR) | MXCSR_DEFAULT;
    }

    private void protect(int prot) {
        try {
            Mman.protect(code, prot);
        } catch (SysException e) {
            throw new IllegalStateException("native test area", e);
        }
    }
}
