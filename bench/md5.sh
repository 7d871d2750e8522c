#!/usr/bin/env bash
# Guest compute benchmark: md5sum of a 32 MiB file in the demo guest (Debian's cloud kernel +
# busybox), the same files and command line on QEMU 7.2 TCG and on jvisor tcg (translator on, and
# off for reference), in one run. The guest times each md5sum itself (busybox `time`, guest clock);
# it runs md5sum six times on the same file (tmpfs), so the table shows the first run (cold: the
# translator's warm-up included), the best of runs 2-3 ("warm", as this script measured before it
# ran six) and the best of runs 4-6 ("steady": HotSpot is still compiling the units' last tier
# and the code the guest's md5sum processes start with during runs 2-3).
# Usage: bench/md5.sh [REPS]    (QEMU 7.2 comes from Debian: apt-get install qemu-system-x86)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
REPS="${1:-1}"
mkdir -p "$OUT"
command -v qemu-system-x86_64 >/dev/null || { echo "md5.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }

"$ROOT/jvisor" build
"$ROOT/jvisor" guest >&2
"$ROOT/jvisor" aot
export JVISOR_NO_BUILD=1
G="$ROOT/build/guest"
CMD='dd if=/dev/zero of=/tmp/f bs=1M count=32 2>/dev/null; for i in 1 2 3 4 5 6; do time md5sum /tmp/f; done'
ENC=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' "$CMD")
COMMON=(-m 512M -nographic -no-reboot -kernel "$G/vmlinuz" -initrd "$G/initramfs.cpio.gz"
        -append "console=ttyS0 quiet jvisor.cmd=$ENC")

# run NAME CMD...: prints "first best_of_2-3 wall best_of_4-6" (seconds)
run() {
    local name="$1"; shift
    local log="$OUT/md5-$name.log" t0 t1
    t0=$(date +%s.%N)
    "$@" </dev/null >"$log" 2>&1 || true
    t1=$(date +%s.%N)
    grep -q "58f06dd588d8ffb3beb46ada6309436b" "$log" || { echo "md5.sh: $name: no md5 of 32 MiB of zeros in $log" >&2; exit 1; }
    # busybox time: "real	0m 0.73s"
    mapfile -t reals < <(sed -n 's/^real[[:space:]]*\([0-9]*\)m \([0-9.]*\)s.*/\1 \2/p' "$log" | awk '{printf "%.3f\n", $1 * 60 + $2}')
    (( ${#reals[@]} == 6 )) || { echo "md5.sh: $name: expected 6 timings in $log" >&2; exit 1; }
    echo "${reals[0]} $(min "${reals[1]}" "${reals[2]}") $(echo "$t1 - $t0" | bc -l) $(min "${reals[3]}" "${reals[4]}" "${reals[5]}")"
}

min() {
    local m="$1" x
    for x in "$@"; do if (( $(echo "$x < $m" | bc -l) )); then m="$x"; fi; done
    echo "$m"
}

best_of() {
    local name="$1"; shift
    local best="" line
    for ((r = 0; r < REPS; r++)); do
        line=$(run "$name" "$@")
        if [[ -z "$best" ]] || (( $(echo "$(cut -d' ' -f2 <<<"$line") < $(cut -d' ' -f2 <<<"$best")" | bc -l) )); then best="$line"; fi
    done
    echo "$best"
}

q=$(best_of qemu qemu-system-x86_64 -accel tcg "${COMMON[@]}")
j=$(best_of jvisor "$ROOT/jvisor" -accel tcg -d jit "${COMMON[@]}")
i=$(best_of jvisor-nojit "$ROOT/jvisor" -accel tcg,jit=off "${COMMON[@]}")
read -r qf qw qt qs <<<"$q"
read -r jf jw jt js <<<"$j"
read -r if_ iw it is <<<"$i"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %12s %12s %12s %10s\n' "VMM" "first (s)" "warm (s)" "steady (s)" "wall (s)"
printf '%-28s %12.3f %12.3f %12.3f %10.1f\n' "QEMU 7.2 TCG" "$qf" "$qw" "$qs" "$qt"
printf '%-28s %12.3f %12.3f %12.3f %10.1f\n' "jvisor tcg (translator)" "$jf" "$jw" "$js" "$jt"
printf '%-28s %12.3f %12.3f %12.3f %10.1f\n' "jvisor tcg,jit=off" "$if_" "$iw" "$is" "$it"
printf 'ratio jvisor/QEMU: first %.2f, warm %.2f, steady %.2f (interpreter: %.2f)\n' \
    "$(echo "$jf / $qf" | bc -l)" "$(echo "$jw / $qw" | bc -l)" "$(echo "$js / $qs" | bc -l)" "$(echo "$is / $qs" | bc -l)"
