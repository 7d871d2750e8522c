package org.jvisor.tcg;

/**
 * What one vCPU's translator did, for {@code -d jit}: plain counters written by the vCPU thread
 * and read when the VM reports (a slightly stale read is fine for a report).
 */
public final class JitStats {
    long units;
    long insns;
    long nativeInsns;
    long helperInsns;
    long bytecodeBytes;
    long translateNanos;
    long regionNanos;
    long compileNanos;
    long defineNanos;
    long declined;
    long retries;
    long flushes;
    /** Translations that failed (a translator bug: the entry stays interpreted). */
    long failures;
    /** Units made from a class already defined (by another VM through a shared library, or before a page drop). */
    long sharedUnits;
    /** Early tries of entries another VM found hot whose class was new (left to the normal threshold). */
    long probeMisses;
    /** Entries made hot by a burst of entries before the threshold (JitOptions#burst). */
    long burstHot;
    /** Kernel entries made hot by their steady rate before the threshold (JitOptions#steady). */
    long steadyHot;
    /** Units run by the dispatcher, and instructions retired inside units. */
    long unitRuns;
    long unitInsns;
    /** Unit runs reached through a link from the previous unit, without a lookup. */
    long linkedRuns;
    /** Interpreted instructions run from units, by opcode (map << 8 | byte). */
    final long[] helperRuns = new long[0x400];
    /** Stores that found their own unit's code page and restarted in the interpreter. */
    long selfModifyRestarts;
    /** Instructions the vCPU decoded to interpret them (decode-cache misses), and those straddling two pages. */
    long decodes;
    long straddlingDecodes;

    /** Adds this vCPU's counts into {@code sum}. */
    public void addTo(JitStats sum) {
        sum.units += units;
        sum.insns += insns;
        sum.nativeInsns += nativeInsns;
        sum.helperInsns += helperInsns;
        sum.bytecodeBytes += bytecodeBytes;
        sum.translateNanos += translateNanos;
        sum.regionNanos += regionNanos;
        sum.compileNanos += compileNanos;
        sum.defineNanos += defineNanos;
        sum.declined += declined;
        sum.retries += retries;
        sum.flushes += flushes;
        sum.failures += failures;
        sum.sharedUnits += sharedUnits;
        sum.probeMisses += probeMisses;
        sum.burstHot += burstHot;
        sum.steadyHot += steadyHot;
        sum.unitRuns += unitRuns;
        sum.unitInsns += unitInsns;
        sum.linkedRuns += linkedRuns;
        sum.selfModifyRestarts += selfModifyRestarts;
        sum.decodes += decodes;
        sum.straddlingDecodes += straddlingDecodes;
        for (int i = 0; i < helperRuns.length; i++) {
            sum.helperRuns[i] += helperRuns[i];
        }
    }

    /** The opcodes units handed to the interpreter most often, as "0F B6: 1234" items. */
    String topHelpers(int n) {
        Integer[] ops = new Integer[helperRuns.length];
        for (int i = 0; i < ops.length; i++) {
            ops[i] = i;
        }
        java.util.Arrays.sort(ops, (x, y) -> Long.compare(helperRuns[y], helperRuns[x]));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n && helperRuns[ops[i]] > 0; i++) {
            int op = ops[i];
            String name = switch (op >>> 8) {
                case 0 -> String.format("%02X", op);
                case 1 -> String.format("0F %02X", op & 0xFF);
                case 2 -> String.format("0F 38 %02X", op & 0xFF);
                default -> String.format("0F 3A %02X", op & 0xFF);
            };
            sb.append(i == 0 ? "" : ", ").append(name).append(": ").append(helperRuns[op]);
        }
        return sb.toString();
    }

    /** The report: units made, their size, time spent translating, what ran translated. */
    public String format(long retiredTotal, long invalidated) {
        return String.format("""
            == jit ==
            units translated     %d (%d instructions: %d translated, %d interpreted in units; %d declined, %d resized, %d failed)
            hot early            %d entries by a burst (user code), %d by a steady rate (kernel code); the rest by the threshold, or all at once
            bytecode             %d bytes (%.0f per unit)
            time translating     %.1f ms (%.0f us per unit; decoding %.1f ms, bytecode %.1f ms, class definition %.1f ms)
            units shared         %d made from a class defined before (here or by another VM), %d early tries new
            units invalidated    %d (code pages written), %d full flushes, %d self-modifying restarts
            units run            %d, %d instructions (%.1f%% of %d retired, %.1f per run), %d through links
            interpreted in units %s
            interpreter decodes  %d instructions (%d straddling two pages)
            """,
            units, insns, nativeInsns, helperInsns, declined, retries, failures, burstHot, steadyHot,
            bytecodeBytes, units == 0 ? 0.0 : (double) bytecodeBytes / units,
            translateNanos / 1e6, units == 0 ? 0.0 : translateNanos / 1e3 / units, regionNanos / 1e6, compileNanos / 1e6,
            defineNanos / 1e6,
            sharedUnits, probeMisses,
            invalidated, flushes, selfModifyRestarts,
            unitRuns, unitInsns, retiredTotal == 0 ? 0.0 : 100.0 * unitInsns / retiredTotal, retiredTotal,
            unitRuns == 0 ? 0.0 : (double) unitInsns / unitRuns, linkedRuns, topHelpers(12), decodes, straddlingDecodes);
    }
}
