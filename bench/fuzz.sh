#!/usr/bin/env bash
# Coverage-guided fuzzing of jvisor's guest-facing surfaces (Jazzer @FuzzTest targets), SECONDS
# each (default 60), each target in a JVM of its own (Jazzer fuzzes one target per JVM),
# FUZZ_JOBS of them at a time (default: one per CPU). Prints per target: executions, coverage (libFuzzer's cov/ft counters) and the outcome.
# A finding's input is written to the target's regression directory
# (src/test/resources/<package>/<Class>Inputs/<method>/), so `mvn verify` replays it from then on;
# the growing corpus stays in .cifuzz-corpus/ (not committed) for the next run to start from.
# Exits 1 if any target found something. Logs: bench/out/fuzz-<target>.log.
# Usage: bench/fuzz.sh [SECONDS] [Class#method ...]      e.g. bench/fuzz.sh 3   (the CI pass)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_EACH="${1:-60}"
shift || true
TARGETS=(
    org.jvisor.devices.virtio.VirtqueueFuzzTest#descriptorChains
    org.jvisor.devices.virtio.VirtioBlkFuzzTest#requests
    org.jvisor.devices.virtio.VirtioNetFuzzTest#requests
    org.jvisor.devices.virtio.VirtioConsoleFuzzTest#requests
    org.jvisor.devices.virtio.VirtioRngFuzzTest#requests
    org.jvisor.devices.virtio.VirtioBalloonFuzzTest#requests
    org.jvisor.devices.virtio.TransportFuzzTest#mmioRegisters
    org.jvisor.devices.virtio.TransportFuzzTest#pciRegisters
    org.jvisor.devices.pci.PciConfigFuzzTest#configSpace
    org.jvisor.devices.iommu.IntelIommuFuzzTest#registersTablesAndQueue
    org.jvisor.devices.ide.IdeFuzzTest#registers
    org.jvisor.devices.ahci.AhciFuzzTest#hba
    org.jvisor.devices.fwcfg.FwCfgFuzzTest#ports
    org.jvisor.devices.pci.ChipsetFuzzTest#i440fx
    org.jvisor.devices.pci.ChipsetFuzzTest#q35
    org.jvisor.devices.pci.ChipsetFuzzTest#q35Firmware
    org.jvisor.devices.legacy.LegacyFuzzTest#uart
    org.jvisor.devices.legacy.LegacyFuzzTest#rtc
    org.jvisor.devices.legacy.LegacyFuzzTest#pit
    org.jvisor.devices.legacy.LegacyFuzzTest#pic
    org.jvisor.devices.legacy.LegacyFuzzTest#i8042
    org.jvisor.devices.legacy.LegacyFuzzTest#acpiPm
    org.jvisor.devices.intc.ApicFuzzTest#ioapic
    org.jvisor.devices.intc.ApicFuzzTest#lapic
    org.jvisor.boot.linux.KernelLoaderFuzzTest#bzImage
    org.jvisor.boot.linux.KernelLoaderFuzzTest#elf
    org.jvisor.boot.linux.KernelLoaderFuzzTest#gzip
    org.jvisor.boot.linux.KernelLoaderFuzzTest#lz4
    org.jvisor.qmp.QmpInputFuzzTest#stream
    org.jvisor.qmp.QmpDispatchFuzzTest#commands
    org.jvisor.cli.CommandLineFuzzTest#args
    org.jvisor.backend.vhost.VhostUserMessageFuzzTest#replies
    org.jvisor.backend.net.StreamFramingFuzzTest#stream
    org.jvisor.export.VhostUserBackendFuzzTest#messages
    org.jvisor.backend.block.qcow2.Qcow2FuzzTest#images
    org.jvisor.machine.SnapshotFuzzTest#restore
)
if (( $# )); then
    TARGETS=("$@")
fi
JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME
cd "$ROOT"
mkdir -p bench/out
mvn -B -ntp -q test-compile dependency:build-classpath -Dmdep.outputFile=target/fuzz-classpath.txt \
    -Dmdep.includeScope=test >&2
CP="target/test-classes:target/classes:$(cat target/fuzz-classpath.txt)"
# A short pass (CI's 1 s each) is mostly start-up: Jazzer's agent and its instrumentation of each
# class run in HotSpot's interpreter, and C2 never pays back in a few seconds. C1 alone makes a
# 1 s target 5.2-5.8 s instead of 6.3-7.3 s from start to end, with as many executions (2026-12-07).
TIERS=()
if (( SECONDS_EACH <= 10 )); then
    TIERS=(-XX:TieredStopAtLevel=1)
fi

# one target: its row of the table (and its log)
fuzz_one() {
    local t="$1" log rc runs secs cov ft outcome
    log="bench/out/fuzz-${t##*.}.log"
    log="${log//#/-}"
    set +e
    JAZZER_FUZZ=1 JAZZER_MAX_DURATION="${SECONDS_EACH}s" "$JAVA_HOME/bin/java" "${TIERS[@]}" \
        --enable-native-access=ALL-UNNAMED -XX:+EnableDynamicAgentLoading -Xss8m -Xmx1g -Djazzer.hooks=true \
        -cp "$CP" org.jvisor.testing.FuzzRunner "$t" >"$log" 2>&1
    rc=$?
    set -e
    # a target that fails at once prints no statistics: every grep may find nothing
    runs=$( (grep -o 'Done [0-9]* runs in [0-9]* second' "$log" || true) | tail -1 | awk '{print $2}')
    secs=$( (grep -o 'Done [0-9]* runs in [0-9]* second' "$log" || true) | tail -1 | awk '{print $5}')
    cov=$( (grep -oE 'cov: [0-9]+' "$log" || true) | tail -1 | awk '{print $2}')
    ft=$( (grep -oE 'ft: [0-9]+' "$log" || true) | tail -1 | awk '{print $2}')
    case $rc in
        0) outcome=ok ;;
        1) outcome="FINDING: $(grep -m1 -oE 'FuzzTestFindingException: .{0,160}|AssertionFailedError: .{0,160}' "$log" || echo "see $log")" ;;
        *) outcome="ERROR (exit $rc): see $log" ;;
    esac
    printf '%-58s %6s %12s %8s %8s  %s\n' "$t" "${secs:--}" "${runs:--}" "${cov:--}" "${ft:--}" "$outcome"
}

# FUZZ_JOBS targets at a time (default: one per CPU): most of a short pass is each JVM's start-up
# and Jazzer's instrumentation, which a second core halves (CI's 30 minutes are nearly used).
JOBS="${FUZZ_JOBS:-$(nproc)}"
ROWS="$(mktemp -d)"
trap 'rm -rf "$ROWS"' EXIT
n=0
for t in "${TARGETS[@]}"; do
    while (( $(jobs -rp | wc -l) >= JOBS )); do
        wait -n || true
    done
    fuzz_one "$t" >"$ROWS/$n" &
    n=$((n + 1))
done
wait
printf '%-58s %6s %12s %8s %8s  %s\n' target s executions cov ft outcome
failed=0
for ((i = 0; i < n; i++)); do
    cat "$ROWS/$i"
    grep -qE '  (FINDING|ERROR)' "$ROWS/$i" && failed=1
done
exit $failed
