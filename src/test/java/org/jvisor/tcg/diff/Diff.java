package org.jvisor.tcg.diff;

import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;
import org.jvisor.boot.TestGuestBoot;

/**
 * The differential driver: generates cases for a family, runs each natively and in tcg (the
 * interpreter, then the translator) and compares GPRs (except RSP and declared-undefined ones), the defined flags, RIP and the data area.
 *
 * <p>System properties: {@code jvisor.fuzz.cases} (cases per family, default a few thousand),
 * {@code jvisor.fuzz.seed} (base seed; default fixed per family so the normal suite is
 * deterministic). A failure names the family, seed and case index; rerun one case with
 * {@code -Djvisor.fuzz.seed=S -Djvisor.fuzz.first=I -Djvisor.fuzz.cases=1}.
 */
final class Diff {
    static final int DEFAULT_CASES = 3000;
    /** Reports: up to PER_KIND examples of each kind of difference, up to MAX_KINDS kinds. */
    private static final int PER_KIND = Integer.getInteger("jvisor.fuzz.reports", 2);
    private static final int MAX_KINDS = 6;
    /** Marks a difference only the translated run shows (the interpreter agreed with the host). */
    static final String TRANSLATED = "translated: ";

    private Diff() {
    }

    static int cases(int defaultCases) {
        String v = System.getProperty("jvisor.fuzz.cases");
        return v == null || v.isBlank() ? defaultCases : Integer.parseInt(v.strip());
    }

    static long seed(String family) {
        String v = System.getProperty("jvisor.fuzz.seed");
        return v == null || v.isBlank() ? family.hashCode() : Long.decode(v.strip());
    }

    static long caseSeed(long seed, long i) {
        long z = seed + (i + 1) * 0x9E37_79B9_7F4A_7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58_476D_1CE4_E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D0_49BB_1331_11EBL;
        return z ^ (z >>> 31);
    }

    static void fuzz(String family, Consumer<Gen> generator) {
        fuzz(family, DEFAULT_CASES, generator);
    }

    /** Synchronized: there is one native code page and one tcg machine. */
    static synchronized void fuzz(String family, int defaultCases, Consumer<Gen> generator) {
        NativeCpu cpu = NativeCpu.get();
        TcgSide tcg = TcgSide.get();
        int n = cases(defaultCases);
        long first = Long.getLong("jvisor.fuzz.first", 0L);
        long seed = seed(family);
        int show = Integer.getInteger("jvisor.fuzz.show", 0);
        int failures = 0;
        StringBuilder report = new StringBuilder();
        java.util.Map<String, Integer> kinds = new java.util.LinkedHashMap<>();
        long[] regs = new long[NativeCpu.BLOCK_LONGS];
        byte[] nativeData = new byte[(int) NativeCpu.DATA_SIZE];
        for (long i = first; i < first + n; i++) {
            long offset = NativeCpu.SNIPPET_MIN + (i % 60) * 0x400;
            Gen g = null;
            for (int attempt = 0; g == null; attempt++) {
                g = new Gen(caseSeed(seed, i) + attempt, cpu.codeBase() + offset, cpu.dataBase());
                try {
                    generator.accept(g);
                } catch (Asm.Unencodable e) {
                    g = null;
                }
            }
            Case c = g.build(family);
            if (i - first < show) {
                System.out.print(family + " case " + i + ":\n" + c.disassembly());
            }
            System.arraycopy(c.regs(), 0, regs, 0, regs.length);
            MemorySegment.copy(c.data(), 0, cpu.data(), ValueLayout.JAVA_BYTE, 0, c.data().length);
            cpu.run(regs, c.code(), offset);
            MemorySegment.copy(cpu.data(), ValueLayout.JAVA_BYTE, 0, nativeData, 0, nativeData.length);
            String diff = compare(c, regs, nativeData, tcg.run(c, false));
            if (diff == null) {
                diff = compare(c, regs, nativeData, tcg.run(c, true));
                diff = diff == null ? null : TRANSLATED + diff;
            }
            if (diff != null) {
                failures++;
                String kind = signature(diff);
                int seen = kinds.merge(kind, 1, Integer::sum);
                if (seen <= PER_KIND && kinds.size() <= MAX_KINDS) {
                    report.append(String.format("%n--- %s seed %d case %d%s%n", family, seed, i,
                        c.note().isEmpty() ? "" : " (" + c.note() + ")"));
                    report.append(c.disassembly());
                    report.append("input:\n").append(c.inputs());
                    report.append(diff);
                }
            }
        }
        System.out.printf("tcg-diff %-24s %8d cases %s%n", family, n,
            failures + " mismatches");
        if (failures > 0) {
            StringBuilder summary = new StringBuilder();
            kinds.forEach((k, v) -> summary.append(String.format("%n  %6d x %s", v, k)));
            fail(String.format("%s: %d of %d cases differ between the host CPU and tcg (seed %d); kinds:%s%s",
                family, failures, n, seed, summary, report));
        }
    }

    /** Null when tcg agrees with the host, else a description of every difference. */
    static String compare(Case c, long[] hostRegs, byte[] hostData, TcgSide.Result t) {
        StringBuilder sb = new StringBuilder();
        if (t.error() != null) {
            sb.append("tcg threw ").append(t.error()).append('\n');
            for (StackTraceElement e : t.error().getStackTrace()) {
                if (e.getClassName().startsWith("org.jvisor.tcg.") && !e.getClassName().contains(".diff.")) {
                    sb.append("    at ").append(e).append('\n');
                    if (sb.length() > 1500) {
                        break;
                    }
                }
            }
            return sb.toString();
        }
        long[] g = t.state().gpr;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || (c.ignoreRegs() & (1 << i)) != 0) {
                continue;
            }
            if (g[i] != hostRegs[i]) {
                sb.append(String.format("  %-6s host %016x tcg %016x%n", Case.NAMES[i], hostRegs[i], g[i]));
            }
        }
        long hf = hostRegs[16] & c.flagMask(), tf = t.state().rflags & c.flagMask();
        if (hf != tf) {
            sb.append(String.format("  rflags host %s tcg %s (compared: %s)%n", flags(hf), flags(tf),
                flags(c.flagMask())));
        }
        for (int i = 0; i < 16; i++) {
            if ((c.ignoreXmm() & (1 << i)) != 0) {
                continue;
            }
            long hl = hostRegs[NativeCpu.XMM_SLOT + 2 * i], hh = hostRegs[NativeCpu.XMM_SLOT + 2 * i + 1];
            long tl = t.state().xmm[2 * i], th = t.state().xmm[2 * i + 1];
            if (hl != tl || hh != th) {
                sb.append(String.format("  xmm%-3d host %016x_%016x tcg %016x_%016x%n", i, hh, hl, th, tl));
            }
        }
        long hm = hostRegs[NativeCpu.MXCSR_SLOT] & c.mxcsrMask(), tm = t.state().mxcsr & c.mxcsrMask();
        if (hm != tm) {
            sb.append(String.format("  mxcsr  host %04x tcg %04x%n", hm, tm));
        }
        if (t.state().gpr[4] != TestGuestBoot.STACK_TOP) {
            sb.append(String.format("  rsp changed in tcg: %016x%n", t.state().gpr[4]));
        }
        long end = c.codeAddr() + c.code().length;
        if (t.state().rip != end) {
            sb.append(String.format("  rip tcg %016x, expected %016x%n", t.state().rip, end));
        }
        byte[] td = t.data();
        int shown = 0;
        long dataBase = NativeCpu.get().dataBase();
        int approxFrom = (int) (c.approxAddr() - dataBase), approxTo = approxFrom + 8 * c.approxCount();
        for (int off = approxFrom; off < approxTo; off += 8) {
            long h = le64(hostData, off), tv = le64(td, off);
            if (!close(h, tv, c.approxUlps())) {
                sb.append(String.format("  double[%08x] host %016x tcg %016x (more than %d ulps apart)%n",
                    dataBase + off, h, tv, c.approxUlps()));
            }
        }
        for (int i = 0; i < hostData.length; i++) {
            if (i >= approxFrom && i < approxTo) {
                continue;
            }
            if (hostData[i] != td[i] && shown++ < 16) {
                sb.append(String.format("  mem[%08x] host %02x tcg %02x (before %02x)%n",
                    NativeCpu.get().dataBase() + i, hostData[i] & 0xFF, td[i] & 0xFF, c.data()[i] & 0xFF));
            }
        }
        return sb.isEmpty() ? null : sb.toString();
    }

    private static long le64(byte[] b, int off) {
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            v = (v << 8) | (b[off + i] & 0xFF);
        }
        return v;
    }

    /** Equal bits, or finite doubles of one sign at most {@code ulps} representable values apart. */
    static boolean close(long a, long b, int ulps) {
        if (a == b) {
            return true;
        }
        double x = Double.longBitsToDouble(a), y = Double.longBitsToDouble(b);
        if (Double.isNaN(x) || Double.isNaN(y) || Double.isInfinite(x) || Double.isInfinite(y) || (a ^ b) < 0) {
            return false;
        }
        return Math.abs(a - b) <= ulps;
    }

    /** What kind of difference: the exception, or which registers/flags/memory differ. */
    static String signature(String diff) {
        if (diff.startsWith(TRANSLATED)) {
            return TRANSLATED + signature(diff.substring(TRANSLATED.length()));
        }
        if (diff.startsWith("tcg threw ")) {
            return diff.lines().findFirst().orElse(diff);
        }
        StringBuilder sb = new StringBuilder("differ:");
        diff.lines().map(String::strip).map(l -> l.startsWith("mem[") || l.startsWith("double[") ? "mem" : l.split(" ")[0])
            .map(w -> w.equals("rflags") || w.equals("mem") || w.equals("rip") || w.equals("rsp") || w.equals("mxcsr") ? w
                : w.startsWith("xmm") ? "xmm" : "gpr").distinct()
            .forEach(w -> sb.append(' ').append(w));
        return sb.toString();
    }

    static String flags(long f) {
        StringBuilder sb = new StringBuilder();
        String[] names = {"CF", "", "PF", "", "AF", "", "ZF", "SF", "", "", "DF", "OF"};
        for (int b = 11; b >= 0; b--) {
            if (!names[b].isEmpty() && (f & (1L << b)) != 0) {
                sb.append(names[b]).append(' ');
            }
        }
        return sb.isEmpty() ? "-" : sb.toString().strip();
    }
}
