package org.jvisor.tcg;

import static java.lang.constant.ConstantDescs.CD_boolean;
import static java.lang.constant.ConstantDescs.CD_int;
import static java.lang.constant.ConstantDescs.CD_long;
import static java.lang.constant.ConstantDescs.CD_void;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.CodeBuilder;
import java.lang.classfile.Label;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.MethodTypeDesc;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Compiles a {@link Region} to the class file of a {@link Unit} subclass, with the JDK's
 * class-file API. This class lays out the method (locals, prologue, blocks, exits, the fault
 * handler); {@link InsnCompiler} translates the instructions. Instructions it does not translate
 * run through the interpreter from inside the unit ({@link TcgCpu#execHelper}) with the state
 * written back before and read again after.
 * <p>
 * The method is compiled twice: the first pass learns which registers the translated
 * instructions read and write, the second loads only those and stores back only those written.
 */
final class UnitCompiler {
    static final ClassDesc CD_UNIT = ClassDesc.of("org.jvisor.tcg.Unit");
    static final ClassDesc CD_INFO = ClassDesc.of("org.jvisor.tcg.Unit$Info");
    static final ClassDesc CD_CPU = ClassDesc.of("org.jvisor.tcg.TcgCpu");
    static final ClassDesc CD_STATE = ClassDesc.of("org.jvisor.cpu.X86State");
    static final ClassDesc CD_SEGMENT = ClassDesc.of("org.jvisor.cpu.SegmentRegister");
    static final ClassDesc CD_MMU = ClassDesc.of("org.jvisor.tcg.Mmu");
    static final ClassDesc CD_FLAGS = ClassDesc.of("org.jvisor.tcg.LazyFlags");
    static final ClassDesc CD_INSN = ClassDesc.of("org.jvisor.tcg.Insn");
    static final ClassDesc CD_THIS = ClassDesc.of("org.jvisor.tcg.Translated");
    private static final MethodTypeDesc RUN = MethodTypeDesc.of(CD_void, CD_CPU, CD_int);

    // local variable slots of run(TcgCpu c, int budget)
    static final int THIS = 0, CPU = 1, BUDGET = 2, S = 3, G = 4, M = 5, LF = 6, REG0 = 7;
    static final int FOP = 39, FA = 40, FB = 42, FRES = 44, FBITS = 46, FAUX = 47;
    static final int N = 49, K = 50, NEXT = 51, T0 = 53, T1 = 55, T2 = 57, T3 = 59, TADDR = 61, EXC = 63;

    static int reg(int r) {
        return REG0 + 2 * r;
    }

    private static final ClassFile CF = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(
        ClassHierarchyResolver.ofClassLoading(UnitCompiler.class.getClassLoader())
            .orElse(ClassHierarchyResolver.defaultResolver())));

    private final Region region;
    private final long hostPage;
    private final long[] faultRip;
    private final int[] faultAdj;
    private final boolean[] faultSynced;
    private final List<Insn> helpers = new ArrayList<>();
    private final Map<Region.Block, Label> labels = new HashMap<>();

    // what the pass learns; the next pass uses it
    int usedMask;
    int writtenMask;
    /** Registers loaded in the prologue and stored at exits in the current pass. */
    private int loadMask;
    private int storeMask;
    /** Instructions translated natively / handed to the interpreter (last pass). */
    int nativeCount;
    int helperCount;

    private UnitCompiler(Region region, long hostPage) {
        this.region = region;
        this.hostPage = hostPage;
        int n = region.insnCount;
        this.faultRip = new long[n];
        this.faultAdj = new int[n];
        this.faultSynced = new boolean[n];
    }

    /** The compiled class and what its constructor takes. */
    record Compiled(byte[] classFile, Unit.Info info, int nativeCount, int helperCount) {
    }

    static Compiled compile(Region region, long hostPage) {
        UnitCompiler uc = new UnitCompiler(region, hostPage);
        uc.loadMask = 0xFFFF;
        uc.storeMask = 0xFFFF;
        uc.pass();
        uc.loadMask = uc.usedMask | uc.writtenMask;
        uc.storeMask = uc.writtenMask;
        byte[] bytes = uc.pass();
        Unit.Info info = new Unit.Info(region.entry, region.blocks.getFirst().start, region.maxEnd, hostPage,
            uc.faultRip, uc.faultAdj, uc.faultSynced, uc.helpers.toArray(new Insn[0]));
        return new Compiled(bytes, info, uc.nativeCount, uc.helperCount);
    }

    private byte[] pass() {
        helpers.clear();
        labels.clear();
        usedMask = 0;
        writtenMask = 0;
        nativeCount = 0;
        helperCount = 0;
        return CF.build(CD_THIS, clb -> {
            clb.withFlags(ClassFile.ACC_FINAL | ClassFile.ACC_SUPER | ClassFile.ACC_SYNTHETIC);
            clb.withSuperclass(CD_UNIT);
            clb.withMethodBody(ConstantDescs.INIT_NAME, MethodTypeDesc.of(CD_void, CD_INFO), ClassFile.ACC_PUBLIC, cb -> {
                cb.aload(0);
                cb.aload(1);
                cb.invokespecial(CD_UNIT, ConstantDescs.INIT_NAME, MethodTypeDesc.of(CD_void, CD_INFO));
                cb.return_();
            });
            clb.withMethodBody("run", RUN, ClassFile.ACC_FINAL, this::emitRun);
        });
    }

    // ---- method layout ----

    private void emitRun(CodeBuilder cb) {
        for (Region.Block b : region.blocks) {
            labels.put(b, cb.newLabel());
        }
        Label epilogue = cb.newLabel();
        Label handler = cb.newLabel();
        Label tryStart = cb.newLabel();
        Label tryEnd = cb.newLabel();
        InsnCompiler ic = new InsnCompiler(cb, this);

        // prologue: the state's parts in locals
        cb.aload(CPU).getfield(CD_CPU, "s", CD_STATE).astore(S);
        cb.aload(S).getfield(CD_STATE, "gpr", CD_long.arrayType()).astore(G);
        cb.aload(CPU).getfield(CD_CPU, "mmu", CD_MMU).astore(M);
        cb.aload(CPU).getfield(CD_CPU, "flags", CD_FLAGS).astore(LF);
        for (int r = 0; r < 16; r++) {
            if ((loadMask & (1 << r)) != 0) {
                cb.aload(G).loadConstant(r).laload().lstore(reg(r));
            }
        }
        loadFlags(cb);
        cb.iconst_0().istore(N);
        cb.iconst_0().istore(K);
        for (int t : new int[] {NEXT, T0, T1, T2, T3, TADDR}) {
            cb.lconst_0().lstore(t);
        }
        Region.Block entry = region.entryBlock();
        cb.labelBinding(tryStart);
        if (region.blocks.getFirst() != entry) {
            cb.goto_(labels.get(entry));
        }
        for (int i = 0; i < region.blocks.size(); i++) {
            Region.Block b = region.blocks.get(i);
            Region.Block nextInOrder = i + 1 < region.blocks.size() ? region.blocks.get(i + 1) : null;
            emitBlock(cb, ic, b, nextInOrder, epilogue);
        }
        cb.labelBinding(tryEnd);

        // normal exit: state back, RIP from NEXT, retired count
        cb.labelBinding(epilogue);
        storeRegs(cb);
        storeFlags(cb);
        cb.aload(S).lload(NEXT).putfield(CD_STATE, "rip", CD_long);
        cb.aload(CPU).dup().getfield(CD_CPU, "retired", CD_long).iload(N).i2l().ladd().putfield(CD_CPU, "retired", CD_long);
        cb.return_();

        // a guest exception (or the store that found its own code modified): the state before the
        // instruction, unless it ran in the interpreter, which already left it in X86State
        cb.labelBinding(handler);
        cb.astore(EXC);
        Label synced = cb.newLabel();
        cb.aload(THIS).getfield(CD_UNIT, "faultSynced", CD_boolean.arrayType()).iload(K).baload().ifne(synced);
        storeRegs(cb);
        storeFlags(cb);
        cb.labelBinding(synced);
        cb.aload(S).aload(THIS).getfield(CD_UNIT, "faultRip", CD_long.arrayType()).iload(K).laload()
            .putfield(CD_STATE, "rip", CD_long);
        cb.aload(CPU).dup().getfield(CD_CPU, "retired", CD_long)
            .iload(N).aload(THIS).getfield(CD_UNIT, "faultAdj", CD_int.arrayType()).iload(K).iaload().iadd().i2l()
            .ladd().putfield(CD_CPU, "retired", CD_long);
        cb.aload(EXC).athrow();
        cb.exceptionCatch(tryStart, tryEnd, handler, ClassDesc.of("java.lang.RuntimeException"));
    }

    private void emitBlock(CodeBuilder cb, InsnCompiler ic, Region.Block b, Region.Block nextInOrder, Label epilogue) {
        cb.labelBinding(labels.get(b));
        int size = b.size();
        if (size > 0) {
            cb.iinc(N, size);
        }
        ic.blockStart();
        boolean exited = false;
        for (int j = 0; j < size; j++) {
            Insn in = b.insns.get(j);
            long rip = b.rips.get(j);
            long next = rip + in.len;
            int idx = b.firstIndex + j;
            faultRip[idx] = rip;
            faultAdj[idx] = j - size;
            boolean last = j == size - 1;
            if (!(last && b.kind == Region.End.DYNAMIC) && ic.compile(in, rip, next, idx, last ? b.kind : null)) {
                nativeCount++;
                continue;
            }
            helperCount++;
            emitHelper(cb, ic, in, rip, idx, j, size);
            if (last && b.kind == Region.End.DYNAMIC || Region.flow(in) != Region.Flow.SEQ) {
                cb.aload(S).getfield(CD_STATE, "rip", CD_long).lstore(NEXT);
                cb.goto_(epilogue);
                exited = true;
            }
        }
        if (exited) {
            return;
        }
        switch (b.kind) {
            case FALL -> {
                if (b.fallBlock != nextInOrder) {
                    edge(cb, b, b.fallBlock, b.fall, epilogue);
                }
            }
            case JCC -> {
                Label taken = cb.newLabel();
                ic.branchIf(b.insns.getLast().op & 0xF, taken);
                edge(cb, b, b.fallBlock, b.fall, epilogue);
                cb.labelBinding(taken);
                edge(cb, b, b.targetBlock, b.target, epilogue);
            }
            case JMP -> edge(cb, b, b.targetBlock, b.target, epilogue);
            case CALL -> exit(cb, b.target, epilogue);
            case INDIRECT -> cb.goto_(epilogue); // the instruction left its target in NEXT
            case EXIT -> exit(cb, b.target, epilogue);
            case DYNAMIC -> throw new IllegalStateException("dynamic end not taken");
        }
    }

    /** Control passes to {@code to} (a region block) or leaves the unit at {@code rip}. */
    private void edge(CodeBuilder cb, Region.Block from, Region.Block to, long rip, Label epilogue) {
        if (to == null) {
            exit(cb, rip, epilogue);
            return;
        }
        if (to.start > from.start) {
            cb.goto_(labels.get(to));
            return;
        }
        // a backward branch: the loop goes on while the slice has budget left (so interrupts,
        // kicks and other vCPUs' code invalidations are seen, as QEMU's TB-entry poll does)
        cb.iload(N).iload(BUDGET).if_icmplt(labels.get(to));
        exit(cb, rip, epilogue);
    }

    private static void exit(CodeBuilder cb, long rip, Label epilogue) {
        cb.loadConstant(rip).lstore(NEXT).goto_(epilogue);
    }

    /**
     * Runs instruction {@code j} of a block of {@code size} in the interpreter: registers, flags,
     * RIP and the retired count go to the CPU first (the budget follows the count), come back after.
     */
    private void emitHelper(CodeBuilder cb, InsnCompiler ic, Insn in, long rip, int idx, int j, int size) {
        storeRegs(cb);
        storeFlags(cb);
        int done = j - size; // N + done = instructions completed in this invocation
        cb.aload(CPU).dup().getfield(CD_CPU, "retired", CD_long).iload(N).loadConstant(done).iadd().i2l().ladd()
            .putfield(CD_CPU, "retired", CD_long);
        cb.iload(BUDGET).iload(N).loadConstant(done).iadd().isub().istore(BUDGET);
        cb.loadConstant(-done).istore(N);
        cb.aload(S).loadConstant(rip).putfield(CD_STATE, "rip", CD_long);
        cb.loadConstant(idx).istore(K);
        faultSynced[idx] = true;
        int h = helpers.size();
        helpers.add(in);
        cb.aload(CPU).aload(THIS).getfield(CD_UNIT, "helpers", CD_INSN.arrayType()).loadConstant(h).aaload()
            .invokevirtual(CD_CPU, "execHelper", MethodTypeDesc.of(CD_void, CD_INSN));
        for (int r = 0; r < 16; r++) {
            if ((loadMask & (1 << r)) != 0) {
                cb.aload(G).loadConstant(r).laload().lstore(reg(r));
            }
        }
        loadFlags(cb);
        ic.flagsUnknown();
    }

    private void storeRegs(CodeBuilder cb) {
        for (int r = 0; r < 16; r++) {
            if ((storeMask & (1 << r)) != 0) {
                cb.aload(G).loadConstant(r).lload(reg(r)).lastore();
            }
        }
    }

    private static void loadFlags(CodeBuilder cb) {
        cb.aload(LF).getfield(CD_FLAGS, "op", CD_int).istore(FOP);
        cb.aload(LF).getfield(CD_FLAGS, "a", CD_long).lstore(FA);
        cb.aload(LF).getfield(CD_FLAGS, "b", CD_long).lstore(FB);
        cb.aload(LF).getfield(CD_FLAGS, "res", CD_long).lstore(FRES);
        cb.aload(LF).getfield(CD_FLAGS, "bits", CD_int).istore(FBITS);
        cb.aload(LF).getfield(CD_FLAGS, "aux", CD_long).lstore(FAUX);
    }

    private static void storeFlags(CodeBuilder cb) {
        cb.aload(LF).iload(FOP).putfield(CD_FLAGS, "op", CD_int);
        cb.aload(LF).lload(FA).putfield(CD_FLAGS, "a", CD_long);
        cb.aload(LF).lload(FB).putfield(CD_FLAGS, "b", CD_long);
        cb.aload(LF).lload(FRES).putfield(CD_FLAGS, "res", CD_long);
        cb.aload(LF).iload(FBITS).putfield(CD_FLAGS, "bits", CD_int);
        cb.aload(LF).lload(FAUX).putfield(CD_FLAGS, "aux", CD_long);
    }

    void noteRead(int r) {
        usedMask |= 1 << r;
    }

    void noteWrite(int r) {
        writtenMask |= 1 << r;
        usedMask |= 1 << r;
    }
}
