package org.jvisor.tcg;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * The guest code a translation unit covers: the basic blocks reachable from one entry RIP inside
 * one 4 KiB page of 64-bit code, found by following direct jumps and both sides of conditional
 * branches (QEMU keeps its direct chaining to one page for the same reason: the unit depends on one
 * page's contents and one linear-to-physical mapping). Calls, returns, indirect jumps, instructions
 * that may change mode or interrupt state, targets outside the page and the size limits end the
 * region with an exit.
 */
final class Region {
    /** How a block ends. */
    enum End {
        /** Falls into the block that starts at {@link Block#fall} (a region block). */
        FALL,
        /** Conditional branch: {@link Block#target} when taken, {@link Block#fall} otherwise. */
        JCC,
        /** Direct jump to {@link Block#target}. */
        JMP,
        /** Direct near call to {@link Block#target}: the unit exits to the callee. */
        CALL,
        /** RET, indirect JMP or CALL: the unit exits to a target computed at run time. */
        INDIRECT,
        /** An interpreted instruction after which the unit exits at whatever RIP it left. */
        DYNAMIC,
        /** The unit stops before {@link Block#target} (the next instruction is outside the region). */
        EXIT,
        /**
         * The instruction at {@link Block#target} crosses the page end: the unit runs it in the
         * interpreter, fetched then (its second page is not the unit's), and exits wherever it
         * went. Code that straddles a page boundary in a loop (md5sum's rounds) otherwise left
         * its unit for the dispatcher on every pass.
         */
        CROSS
    }

    /** Control-flow kinds of single instructions in 64-bit mode. */
    enum Flow { SEQ, JCC, JMP, CALL, INDIRECT, DYNAMIC }

    static final class Block {
        final long start;
        final List<Insn> insns = new ArrayList<>();
        final List<Long> rips = new ArrayList<>();
        long end;
        End kind;
        long target;
        long fall;
        /** Resolved successors inside the region (null: an exit). */
        Block targetBlock, fallBlock;
        /** Index of the block's first instruction in the unit (the fault tables' numbering). */
        int firstIndex;
        /** A {@link End#CROSS} block's index for its crossing instruction, after all others. */
        int crossIndex = -1;

        Block(long start) {
            this.start = start;
            this.end = start;
        }

        int size() {
            return insns.size();
        }
    }

    final long entry;
    final long pageBase;
    /** Blocks in address order. */
    final List<Block> blocks;
    final int insnCount;
    /** Blocks that end in an instruction crossing the page end ({@link End#CROSS}). */
    final int crossCount;
    /** The end (exclusive) of the highest instruction the region contains or runs (a crossing one: its first byte). */
    final long maxEnd;

    private Region(long entry, List<Block> blocks) {
        this.entry = entry;
        this.pageBase = entry & ~0xFFFL;
        this.blocks = blocks;
        int n = 0;
        long hi = entry;
        for (Block b : blocks) {
            b.firstIndex = n;
            n += b.size();
            hi = Math.max(hi, b.end);
        }
        this.insnCount = n;
        int crossing = 0;
        for (Block b : blocks) {
            if (b.kind == End.CROSS) {
                b.crossIndex = n + crossing++;
                hi = Math.max(hi, b.target + 1); // a stop address there must not be run past
            }
        }
        this.crossCount = crossing;
        this.maxEnd = hi;
    }

    Block entryBlock() {
        for (Block b : blocks) {
            if (b.start == entry) {
                return b;
            }
        }
        throw new IllegalStateException("no entry block");
    }

    /** Decodes one instruction of the page snapshot at {@code rip}, or null when it is not wholly inside the page. */
    interface InsnSource {
        Insn decode(long rip);
    }

    /** Cost model for the JVM method a region becomes: bytecode bytes per instruction. */
    interface Cost {
        int bytes(Insn in);
    }

    /**
     * Discovers the region from {@code entry}. {@code stop}: an address no block may reach (the
     * caller's stop RIP, or any value outside the page); {@code maxInsns} and {@code maxBytes}
     * bound the unit.
     */
    static Region build(long entry, InsnSource src, Cost cost, long stop, int maxInsns, int maxBytes) {
        long page = entry & ~0xFFFL;
        TreeMap<Long, Block> byStart = new TreeMap<>();
        ArrayList<Long> work = new ArrayList<>();
        work.add(entry);
        int insns = 0;
        int bytes = 0;
        while (!work.isEmpty()) {
            long start = work.removeLast();
            if (byStart.containsKey(start)) {
                continue;
            }
            var below = byStart.floorEntry(start);
            if (below != null && start < below.getValue().end) {
                split(below.getValue(), start, byStart);
                continue;
            }
            Block b = new Block(start);
            byStart.put(start, b);
            long rip = start;
            while (true) {
                Long nextStart = byStart.higherKey(b.start);
                if (rip != b.start && nextStart != null && rip == nextStart) {
                    b.kind = End.FALL;
                    b.fall = rip;
                    break;
                }
                Insn in = rip == stop || insns >= maxInsns ? null : src.decode(rip);
                int c = in == null ? 0 : cost.bytes(in);
                if (in == null || bytes + c > maxBytes
                        || (nextStart != null && rip + in.len > nextStart)) {
                    // not decodable inside the page so close to its end: it crosses (or is
                    // invalid, which the interpreter raises as it must)
                    boolean crosses = in == null && rip != stop && insns < maxInsns
                        && (rip & 0xFFF) > 0x1000 - Decoder.MAX_INSN_LEN;
                    b.kind = crosses ? End.CROSS : End.EXIT;
                    b.target = rip;
                    break;
                }
                b.insns.add(in);
                b.rips.add(rip);
                insns++;
                bytes += c;
                long next = rip + in.len;
                b.end = next;
                Flow f = flow(in);
                if (f == Flow.SEQ) {
                    rip = next;
                    continue;
                }
                switch (f) {
                    case JCC -> {
                        b.kind = End.JCC;
                        b.target = next + in.imm;
                        b.fall = next;
                        addTarget(work, page, b.fall);
                        addTarget(work, page, b.target);
                    }
                    case JMP -> {
                        b.kind = End.JMP;
                        b.target = next + in.imm;
                        addTarget(work, page, b.target);
                    }
                    case CALL -> {
                        b.kind = End.CALL;
                        b.target = next + in.imm;
                    }
                    case INDIRECT -> b.kind = End.INDIRECT;
                    default -> b.kind = End.DYNAMIC;
                }
                break;
            }
        }
        List<Block> blocks = new ArrayList<>(byStart.values());
        for (Block b : blocks) {
            if (b.kind == End.JCC || b.kind == End.JMP) {
                b.targetBlock = byStart.get(b.target);
            }
            if (b.kind == End.JCC || b.kind == End.FALL) {
                b.fallBlock = byStart.get(b.fall);
            }
        }
        // a block may have been decoded empty (its first instruction left the page): keep it as an exit
        return new Region(entry, blocks);
    }

    private static void addTarget(List<Long> work, long page, long t) {
        if ((t & ~0xFFFL) == page) {
            work.add(t);
        }
    }

    /** Splits {@code b} at {@code at} when that is one of its instruction boundaries. */
    private static void split(Block b, long at, TreeMap<Long, Block> byStart) {
        int i = b.rips.indexOf(at);
        if (i <= 0) {
            return; // inside an instruction: the branch there stays an exit
        }
        Block tail = new Block(at);
        tail.insns.addAll(b.insns.subList(i, b.insns.size()));
        tail.rips.addAll(b.rips.subList(i, b.rips.size()));
        tail.end = b.end;
        tail.kind = b.kind;
        tail.target = b.target;
        tail.fall = b.fall;
        b.insns.subList(i, b.insns.size()).clear();
        b.rips.subList(i, b.rips.size()).clear();
        b.end = at;
        b.kind = End.FALL;
        b.fall = at;
        byStart.put(at, tail);
    }

    /**
     * How an instruction affects control flow in 64-bit mode. SEQ means it continues at the next
     * instruction or faults, whoever executes it; DYNAMIC means it may go anywhere or change what
     * the rest of the unit assumes (mode, interrupt flag or shadow, segment bases loaded from
     * descriptors, serialization), so the unit must end after it.
     */
    static Flow flow(Insn in) {
        int op = in.op;
        if ((op >= 0x70 && op <= 0x7F) || (op >= 0x180 && op <= 0x18F)) {
            return Flow.JCC;
        }
        switch (op) {
            case 0xE9, 0xEB:
                return Flow.JMP;
            case 0xE8:
                return in.osz == 8 ? Flow.CALL : Flow.DYNAMIC;
            case 0xC2, 0xC3:
                return in.osz == 8 ? Flow.INDIRECT : Flow.DYNAMIC;
            case 0xFF: {
                int k = in.reg & 7;
                if (k == 2 || k == 4) {
                    return in.osz == 8 ? Flow.INDIRECT : Flow.DYNAMIC;
                }
                return k == 3 || k == 5 ? Flow.DYNAMIC : Flow.SEQ;
            }
            // string and port-string instructions with REP run in chunks that restart themselves
            case 0x6C, 0x6D, 0x6E, 0x6F, 0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF:
                return in.rep != 0 ? Flow.DYNAMIC : Flow.SEQ;
            // far transfers, software interrupts, IRET, LOOP/JrCXZ, INT1, HLT, STI, POPF, MOV SS
            case 0x8E, 0x9A, 0x9D, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0xE0, 0xE1, 0xE2, 0xE3, 0xEA, 0xF1, 0xF4, 0xFB:
                return Flow.DYNAMIC;
            // descriptor tables, SYSCALL/SYSRET, CLTS, INVD/WBINVD, UD2, MOV CRn/DRn, WRMSR,
            // SYSENTER/SYSEXIT, POP FS/GS, CPUID (serializing), RSM, LSS/LFS/LGS, GETSEC
            case 0x100, 0x101, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10B, 0x120, 0x121, 0x122, 0x123, 0x130,
                 0x134, 0x135, 0x137, 0x1A1, 0x1A2, 0x1A9, 0x1AA, 0x1B2, 0x1B4, 0x1B5:
                return Flow.DYNAMIC;
            default:
                return Flow.SEQ;
        }
    }
}
