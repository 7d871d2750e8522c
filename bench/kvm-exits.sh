#!/usr/bin/env bash
# Cost of one VM exit (a port write nobody claims) in jvisor's kvm engine vs. a minimal C KVM loop
# on the same guest, in the same run. Each is timed on N_SMALL and N_LARGE exits; the cost per exit
# is the difference divided by the difference in exits, so start-up cost cancels out. Best of REPS.
# Usage: bench/kvm-exits.sh [N_LARGE] [REPS]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
N_SMALL=10000
N_LARGE="${1:-200000}"
REPS="${2:-3}"
mkdir -p "$OUT"
[[ -r /dev/kvm && -w /dev/kvm ]] || { echo "kvm-exits: /dev/kvm is not usable here; nothing to measure" >&2; exit 1; }

"$ROOT/jvisor" build
export JVISOR_NO_BUILD=1
gcc -O2 -Wall -o "$OUT/kvm-exit-loop" "$ROOT/bench/kvm-exit-loop.c"
for n in "$N_SMALL" "$N_LARGE"; do
    gcc -c -Wa,--defsym,COUNT="$n" -o "$OUT/portloop-$n.o" "$ROOT/bench/portloop.S"
    gcc -nostdlib -static -no-pie -Wl,-T,"$ROOT/guests/guest.ld" -Wl,--build-id=none -o "$OUT/portloop-$n.elf" "$OUT/portloop-$n.o"
done

now() { date +%s.%N; }
# best-of-REPS wall time of a command whose exit status must be 33 (the guest's pass)
best() {
    local best="" t0 t1 d st
    for ((r = 0; r < REPS; r++)); do
        t0=$(now)
        set +e; "$@" >/dev/null 2>&1; st=$?; set -e
        t1=$(now)
        [[ $st -eq 33 ]] || { echo "kvm-exits: '$*' exited with $st" >&2; exit 1; }
        d=$(echo "$t1 - $t0" | bc -l)
        if [[ -z "$best" ]] || (( $(echo "$d < $best" | bc -l) )); then best=$d; fi
    done
    echo "$best"
}

JV=("$ROOT/jvisor" -accel kvm -serial none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel)
c_small=$(best "$OUT/kvm-exit-loop" "$OUT/portloop-$N_SMALL.elf")
c_large=$(best "$OUT/kvm-exit-loop" "$OUT/portloop-$N_LARGE.elf")
j_small=$(best "${JV[@]}" "$OUT/portloop-$N_SMALL.elf")
j_large=$(best "${JV[@]}" "$OUT/portloop-$N_LARGE.elf")

per() { echo "($2 - $1) * 1000000 / ($N_LARGE - $N_SMALL)" | bc -l; }
c_us=$(per "$c_small" "$c_large")
j_us=$(per "$j_small" "$j_large")
printf 'exits measured: %d (difference of %d and %d port writes), best of %d\n' $((N_LARGE - N_SMALL)) "$N_LARGE" "$N_SMALL" "$REPS"
printf 'C KVM loop : %8.3f us/exit\n' "$c_us"
printf 'jvisor kvm : %8.3f us/exit\n' "$j_us"
printf 'ratio jvisor/C: %.3f\n' "$(echo "$j_us / $c_us" | bc -l)"
