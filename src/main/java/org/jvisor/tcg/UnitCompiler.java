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
 * run through the interpreter from inside the unit ({@link TcgCpu#execHelper}).
 * <p>
 * The guest registers stay in {@link org.jvisor.cpu.X86State#gpr} (as QEMU keeps them in its CPU
 * state): C2 forwards a register's stores to its later loads between calls, the method keeps few
 * values alive (register allocation was half of C2's time with the registers in locals), and the
 * state is exact wherever an instruction may fault. The lazy-flags record lives in locals and is
 * stored into {@link LazyFlags} before anything that may fault or read it. So the fault handler
 * only sets RIP and the retired count.
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
    static final int THIS = 0, CPU = 1, BUDGET = 2, S = 3, G = 4, M = 5, LF = 6;
    static final int FOP = 7, FA = 8, FB = 10, FRES = 12, FBITS = 14, FAUX = 15;
    static final int N = 17, K = 18, NEXT = 19, T0 = 21, T1 = 23, T2 = 25, T3 = 27, TADDR = 29, TV = 31, EXC = 33;
    /** A rotate's pending CF and OF, or {@link InsnCompiler#NO_ROTATE}. */
    static final int FROT = 34;

    private static final ClassFile CF = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(
        ClassHierarchyResolver.ofClassLoading(UnitCompiler.class.getClassLoader())
            .orElse(ClassHierarchyResolver.defaultResolver())));

    private final Region region;
    private final long hostPage;
    private final long[] faultRip;
    private final int[] faultAdj;
    private final boolean[] interpreted;
    private final List<Insn> helpers = new ArrayList<>();
    private final Map<Region.Block, Label> labels = new HashMap<>();

    /** Instructions translated natively / handed to the interpreter. */
    int nativeCount;
    int helperCount;

    private UnitCompiler(Region region, long hostPage) {
        this.region = region;
        this.hostPage = hostPage;
        int n = region.insnCount + region.crossCount;
        this.faultRip = new long[n];
        this.faultAdj = new int[n];
        this.interpreted = new boolean[n];
    }

    /** The compiled class and what its constructor takes. */
    record Compiled(byte[] classFile, Unit.Info info, int nativeCount, int helperCount) {
    }

    static Compiled compile(Region region, long hostPage) {
        UnitCompiler uc = new UnitCompiler(region, hostPage);
        byte[] bytes = uc.build();
        Unit.Info info = new Unit.Info(region.entry, region.blocks.getFirst().start, region.maxEnd, hostPage,
            uc.faultRip, uc.faultAdj, uc.interpreted, uc.helpers.toArray(new Insn[0]), uc.nativeCount);
        return new Compiled(bytes, info, uc.nativeCount, uc.helperCount);
    }

    private byte[] build() {
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

        // a negative budget is a warm-up call (Translator#warm): it returns before touching the CPU
        Label go = cb.newLabel();
        cb.iload(BUDGET).ifge(go).return_().labelBinding(go);
        // prologue: the state's parts in locals
        cb.aload(CPU).getfield(CD_CPU, "s", CD_STATE).astore(S);
        cb.aload(S).getfield(CD_STATE, "gpr", CD_long.arrayType()).astore(G);
        cb.aload(CPU).getfield(CD_CPU, "mmu", CD_MMU).astore(M);
        cb.aload(CPU).getfield(CD_CPU, "flags", CD_FLAGS).astore(LF);
        // one range check of the register file up front (it dominates the constant-index ones)
        cb.aload(G).loadConstant(15).laload().pop2();
        loadFlags(cb);
        cb.iconst_0().istore(N);
        cb.iconst_0().istore(K);
        for (int t : new int[] {NEXT, T0, T1, T2, T3, TADDR, TV}) {
            cb.lconst_0().lstore(t);
        }
        cb.loadConstant(InsnCompiler.NO_ROTATE).lstore(FROT);
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

        // normal exit: the flags record, RIP from NEXT, the retired count
        cb.labelBinding(epilogue);
        storeFlags(cb);
        applyPendingRotate(cb); // none is pending at an exit (blockEnd): C2 folds this away
        cb.aload(S).lload(NEXT).putfield(CD_STATE, "rip", CD_long);
        cb.aload(CPU).dup().getfield(CD_CPU, "retired", CD_long).iload(N).i2l().ladd().putfield(CD_CPU, "retired", CD_long);
        cb.return_();

        // a guest exception (or the store that found its own code modified): the registers are as
        // before the instruction already; the flags record is the locals', unless the instruction
        // ran in the interpreter, which keeps LazyFlags exact itself (also after part of a REP)
        cb.labelBinding(handler);
        cb.astore(EXC);
        Label interp = cb.newLabel();
        cb.aload(THIS).getfield(CD_UNIT, "interpreted", CD_boolean.arrayType()).iload(K).baload().ifne(interp);
        storeFlags(cb);
        applyPendingRotate(cb);
        cb.labelBinding(interp);
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
        boolean[] dead = InsnCompiler.deadFlags(b.insns);
        boolean exited = false;
        for (int j = 0; j < size; j++) {
            Insn in = b.insns.get(j);
            long rip = b.rips.get(j);
            long next = rip + in.len;
            int idx = b.firstIndex + j;
            faultRip[idx] = rip;
            faultAdj[idx] = j - size;
            boolean last = j == size - 1;
            if (!(last && b.kind == Region.End.DYNAMIC) && ic.compile(in, rip, next, idx, last ? b.kind : null, dead[j])) {
                nativeCount++;
                continue;
            }
            helperCount++;
            emitHelper(cb, ic, in, rip, idx, j, size);
            if (last && b.kind == Region.End.DYNAMIC || Region.flow(in) != Region.Flow.SEQ) {
                exitAtStateRip(cb, epilogue);
                exited = true;
            }
        }
        if (exited) {
            return;
        }
        ic.blockEnd();
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
            case CROSS -> emitCrossing(cb, ic, b, epilogue);
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
        // a backward branch: the loop goes on while the slice has budget left and no interrupt
        // check was requested (so interrupts, kicks and other vCPUs' code invalidations are
        // seen, as QEMU's TB-entry poll of its exit request does). One test for both: a request
        // (0 or 1) shifted past any budget (a slice is at most 4096 instructions) fails it. As a
        // branch of its own, the request, rarely set while HotSpot profiles a unit, was compiled
        // by C2 as an uncommon trap: the first interrupt that came during the loop deoptimized
        // the unit and made C2 compile it again (a third of the demo boot's deoptimized units).
        cb.iload(N).aload(CPU).getfield(CD_CPU, "interruptRequest", CD_boolean).loadConstant(30).ishl().iadd()
            .iload(BUDGET).if_icmplt(labels.get(to));
        exit(cb, rip, epilogue);
    }

    private static void exit(CodeBuilder cb, long rip, Label epilogue) {
        cb.loadConstant(rip).lstore(NEXT).goto_(epilogue);
    }

    /** Runs instruction {@code j} of a block of {@code size} in the interpreter ({@link TcgCpu#execHelper}). */
    private void emitHelper(CodeBuilder cb, InsnCompiler ic, Insn in, long rip, int idx, int j, int size) {
        int h = helpers.size();
        helpers.add(in);
        toInterpreter(cb, ic, rip, idx, j - size);
        cb.aload(CPU).aload(THIS).getfield(CD_UNIT, "helpers", CD_INSN.arrayType()).loadConstant(h).aaload()
            .invokevirtual(CD_CPU, "execHelper", MethodTypeDesc.of(CD_void, CD_INSN));
        fromInterpreter(cb, ic);
    }

    /**
     * Runs the instruction that crosses the page end after block {@code b} in the interpreter
     * ({@link TcgCpu#execCrossing}, which fetches it, so its bytes in the next page are read then)
     * and leaves the unit at the RIP it left. The state is exact before it, as for a helper; a
     * fault in it leaves RIP at it and the retired count before it.
     */
    private void emitCrossing(CodeBuilder cb, InsnCompiler ic, Region.Block b, Label epilogue) {
        faultRip[b.crossIndex] = b.target;
        helperCount++;
        toInterpreter(cb, ic, b.target, b.crossIndex, 0);
        cb.aload(CPU).invokevirtual(CD_CPU, "execCrossing", MethodTypeDesc.of(CD_void));
        fromInterpreter(cb, ic);
        exitAtStateRip(cb, epilogue);
    }

    /**
     * Hands the instruction at {@code rip} (fault-table index {@code idx}) to the interpreter:
     * registers, flags, RIP and the retired count go to the CPU first (the budget follows the
     * count); {@code done} is what N lacks of the instructions completed before it (N + done).
     */
    private void toInterpreter(CodeBuilder cb, InsnCompiler ic, long rip, int idx, int done) {
        ic.syncFlags();
        cb.aload(CPU).dup().getfield(CD_CPU, "retired", CD_long).iload(N).loadConstant(done).iadd().i2l().ladd()
            .putfield(CD_CPU, "retired", CD_long);
        cb.iload(BUDGET).iload(N).loadConstant(done).iadd().isub().istore(BUDGET);
        cb.loadConstant(-done).istore(N);
        cb.aload(S).loadConstant(rip).putfield(CD_STATE, "rip", CD_long);
        cb.loadConstant(idx).istore(K);
        interpreted[idx] = true;
    }

    /** After the interpreter ran an instruction: the flags record is whatever it left. */
    private static void fromInterpreter(CodeBuilder cb, InsnCompiler ic) {
        loadFlags(cb);
        ic.flagsUnknown();
    }

    /** Leaves the unit at the RIP the interpreter left in the state. */
    private static void exitAtStateRip(CodeBuilder cb, Label epilogue) {
        cb.aload(S).getfield(CD_STATE, "rip", CD_long).lstore(NEXT);
        cb.goto_(epilogue);
    }

    private static void loadFlags(CodeBuilder cb) {
        cb.aload(LF).getfield(CD_FLAGS, "op", CD_int).istore(FOP);
        cb.aload(LF).getfield(CD_FLAGS, "a", CD_long).lstore(FA);
        cb.aload(LF).getfield(CD_FLAGS, "b", CD_long).lstore(FB);
        cb.aload(LF).getfield(CD_FLAGS, "res", CD_long).lstore(FRES);
        cb.aload(LF).getfield(CD_FLAGS, "bits", CD_int).istore(FBITS);
        cb.aload(LF).getfield(CD_FLAGS, "aux", CD_long).lstore(FAUX);
    }

    /** Puts a rotate's CF and OF, if one is pending in FROT, over the flags LazyFlags now holds. */
    static void applyPendingRotate(CodeBuilder cb) {
        Label none = cb.newLabel();
        cb.lload(FROT).loadConstant(InsnCompiler.NO_ROTATE).lcmp().ifeq(none);
        cb.aload(LF).lload(FROT).invokevirtual(CD_FLAGS, "overlayCarryOverflow", MethodTypeDesc.of(CD_void, CD_long));
        cb.labelBinding(none);
    }

    static void storeFlags(CodeBuilder cb) {
        cb.aload(LF).iload(FOP).putfield(CD_FLAGS, "op", CD_int);
        cb.aload(LF).lload(FA).putfield(CD_FLAGS, "a", CD_long);
        cb.aload(LF).lload(FB).putfield(CD_FLAGS, "b", CD_long);
        cb.aload(LF).lload(FRES).putfield(CD_FLAGS, "res", CD_long);
        cb.aload(LF).iload(FBITS).putfield(CD_FLAGS, "bits", CD_int);
        cb.aload(LF).lload(FAUX).putfield(CD_FLAGS, "aux", CD_long);
    }
}
