#!/usr/bin/env bash
# Where a 4 KiB O_DIRECT read's time goes, per host thread: the demo guest on tcg reads its
# virtio-blk-pci disk (raw, writeback, samecore: no iothread) COUNT times with dd, one request in
# flight, on each jvisor jar given and on QEMU 7.2 TCG. Printed per read: the guest's µs (its
# /proc/uptime), and each host thread's CPU time and run-queue wait (/proc/PID/task/*/schedstat,
# read when the guest starts dd and when it prints the result), so a loaded machine shows as
# wait rather than hiding in the wall time. With -d jit, jvisor also prints the guest
# instructions it retired (boot included: compare with COUNT=0 for the per-read count).
# Usage: bench/read-cost.sh COUNT [JAR...]   (default: target/jvisor.jar)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
COUNT="${1:-3000}"
shift || true
JARS=("$@")
[ ${#JARS[@]} -gt 0 ] || JARS=("$ROOT/target/jvisor.jar")
mkdir -p "$OUT"
command -v qemu-system-x86_64 >/dev/null || { echo "read-cost.sh: qemu-system-x86_64 missing" >&2; exit 1; }
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
G="$ROOT/build/guest"
[ -f "$G/vmlinuz" ] || "$ROOT/jvisor" guest >&2
IMG="$OUT/read-cost.img"
head -c $((COUNT * 4096 + (1 << 20))) /dev/urandom >"$IMG"
CMD=$(printf '%s' "echo DD-START; t0=\$(cat /proc/uptime); dd if=/dev/vda of=/dev/null bs=4k count=$COUNT iflag=direct 2>/dev/null; t1=\$(cat /proc/uptime); echo \"T \$t0 \$t1\"; sleep 1; poweroff -f" | base64 -w0)

# thread name -> "run-ns wait-ns", summed over threads of that name
snapshot() {
    for t in /proc/"$1"/task/*; do
        printf '%s %s\n' "$(tr ' ' _ <"$t/comm" 2>/dev/null)" "$(cat "$t/schedstat" 2>/dev/null)"
    done | awk 'NF >= 3 {r[$1] += $2; w[$1] += $3} END {for (k in r) printf "%s %.0f %.0f\n", k, r[k], w[k]}' | sort
}

measure() {   # measure LABEL COMMAND...
    local label=$1 log="$OUT/read-cost.log" pid
    shift
    : >"$log"
    "$@" -accel tcg -m 256M -nographic -no-reboot -kernel "$G/vmlinuz" -initrd "$G/initramfs.cpio.gz" \
        -append "console=ttyS0 quiet jvisor.cmd=b64:$CMD" \
        -drive file="$IMG",format=raw,if=none,id=d0,readonly=on -device virtio-blk-pci,drive=d0 </dev/null >"$log" 2>&1 &
    pid=$!
    until grep -aq DD-START "$log"; do kill -0 $pid 2>/dev/null || { echo "$label: the VMM ended early (see $log)" >&2; return; }; sleep 0.05; done
    snapshot $pid >"$OUT/read-cost.s0"
    until grep -aq '^T ' "$log"; do kill -0 $pid 2>/dev/null || { echo "$label: no result (see $log)" >&2; return; }; sleep 0.02; done
    snapshot $pid >"$OUT/read-cost.s1"
    wait $pid || true
    printf '%s: %s µs per read in the guest, load average %s\n' "$label" \
        "$(grep -a '^T ' "$log" | awk -v n="$COUNT" '{printf "%.0f", ($4 - $2) * 1e6 / n}')" "$(cut -d' ' -f1 /proc/loadavg)"
    join "$OUT/read-cost.s0" "$OUT/read-cost.s1" | awk -v n="$COUNT" '
        {r = ($4 - $2) / 1e3 / n; w = ($5 - $3) / 1e3 / n; tr += r; tw += w
         if (r >= 1) printf "    %-18s CPU %7.1f µs/read   run-queue wait %7.1f µs/read\n", $1, r, w}
        END {printf "    %-18s CPU %7.1f µs/read   run-queue wait %7.1f µs/read\n", "all threads", tr, tw}'
    grep -a 'units run\|^virtio-blk0@' "$log" | sed 's/^/    /' || true
}

for jar in "${JARS[@]}"; do
    measure "jvisor $(basename "$jar")" "$JAVA" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -Xms24m -Xmn12m \
        -Xmx80m -jar "$jar" -trace exits -d jit
done
measure "QEMU 7.2 TCG" qemu-system-x86_64 -nodefaults -serial stdio -monitor none
