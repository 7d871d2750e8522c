package org.jvisor.machine;

import java.util.List;

import org.jvisor.cpu.ExitReason;
import org.jvisor.cpu.ExitStats;
import org.jvisor.memory.AddressSpace;

/** The -trace exits report: exits and handling time per reason, then per device. */
final class ExitReport {
    private ExitReport() {
    }

    static String format(List<VcpuRunner> runners, AddressSpace io, AddressSpace mmio) {
        ExitStats sum = new ExitStats(true);
        for (VcpuRunner r : runners) {
            r.stats().addTo(sum);
        }
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%n== exits (%d vCPU%s) ==%n", runners.size(), runners.size() == 1 ? "" : "s"));
        sb.append(String.format("%-14s %12s %14s%n", "reason", "count", "mean handling"));
        for (ExitReason reason : ExitReason.values()) {
            long n = sum.countOf(reason);
            if (n == 0) {
                continue;
            }
            long ns = sum.nanosOf(reason);
            sb.append(String.format("%-14s %12d %14s%n", reason.name().toLowerCase(), n,
                ns == 0 ? "-" : String.format("%.0f ns", (double) ns / n)));
        }
        sb.append(String.format("%-14s %12d%n", "total", sum.total()));
        appendSpace(sb, io, "port");
        appendSpace(sb, mmio, "address");
        return sb.toString();
    }

    private static void appendSpace(StringBuilder sb, AddressSpace space, String unit) {
        sb.append(String.format("-- %s --%n", space.name()));
        for (AddressSpace.Region r : space.regions()) {
            if (r.accesses() == 0) {
                continue;
            }
            sb.append(String.format("%-28s %#8x %12d %14s%n", r.owner(), r.base(), r.accesses(),
                r.nanos() == 0 ? "-" : String.format("%.0f ns", (double) r.nanos() / r.accesses())));
        }
        if (space.unclaimedReads() + space.unclaimedWrites() > 0) {
            sb.append(String.format("%-28s %8s %12d (reads %d, writes %d; last %s %#x)%n", "unclaimed", "",
                space.unclaimedReads() + space.unclaimedWrites(), space.unclaimedReads(), space.unclaimedWrites(),
                unit, space.lastUnclaimedAddress()));
        }
    }
}
