#!/usr/bin/env bash
# Guest instructions per second of the tcg engine against QEMU TCG on the same compute guest, in
# the same run. Each VMM runs the guest with a small and a large iteration count; MIPS is the
# difference in guest instructions over the difference in wall time, so start-up cancels out.
# QEMU boots the Multiboot variant (guests/qemu/boot32.S recreates jvisor's entry state).
# Usage: bench/tcg-mips.sh [ITERS_LARGE] [REPS]
#        bench/tcg-mips.sh warmup [REPS]   the warm-up curve: the same guest at 1, 10^4 ... 10^8
#                                          iterations; per size the time over the 1-iteration run
#                                          (start-up and exit cancel) and the MIPS over the step
#                                          from the size before, i.e. the speed reached by then
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
SMALL=1000000
MODE=mips
if [[ "${1:-}" == warmup ]]; then
    MODE=warmup
    shift
    SIZES=(1 10000 100000 1000000 10000000 100000000)
    REPS="${1:-3}"
else
    LARGE="${1:-100000000}"
    REPS="${2:-3}"
    SIZES=("$SMALL" "$LARGE")
fi
PER_ITER=8
mkdir -p "$OUT"
command -v qemu-system-x86_64 >/dev/null || { echo "tcg-mips: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }

"$ROOT/jvisor" build
export JVISOR_NO_BUILD=1
gcc -c -o "$OUT/boot32.o" "$ROOT/guests/qemu/boot32.S"
for n in "${SIZES[@]}"; do
    gcc -c -Wa,--defsym,ITERS="$n" -o "$OUT/compute-$n.o" "$ROOT/bench/compute.S"
    gcc -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-T,"$ROOT/guests/guest.ld" \
        -o "$OUT/compute-$n.elf" "$OUT/compute-$n.o"
    gcc -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-T,"$ROOT/guests/qemu/mb.ld" \
        -Wl,-z,max-page-size=0x1000 -Wl,--no-warn-rwx-segments -o "$OUT/compute-$n.mb.elf" "$OUT/boot32.o" "$OUT/compute-$n.o"
done

now() { date +%s.%N; }
best() {
    local best="" t0 t1 d st
    for ((r = 0; r < REPS; r++)); do
        t0=$(now); set +e; "$@" >/dev/null 2>&1 </dev/null; st=$?; set -e; t1=$(now)
        [[ $st -eq 33 ]] || { echo "tcg-mips: '$*' exited with $st" >&2; exit 1; }
        d=$(echo "$t1 - $t0" | bc -l)
        if [[ -z "$best" ]] || (( $(echo "$d < $best" | bc -l) )); then best=$d; fi
    done
    echo "$best"
}
DX=(-device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none -serial none -m 128M)
if [[ $MODE == warmup ]]; then
    printf '%11s %12s | %10s %10s | %10s %10s\n' iterations "guest insns" "QEMU s" "QEMU MIPS" "jvisor s" "jvisor MIPS"
    q0="" j0="" qp=0 jp=0 np=0
    for n in "${SIZES[@]}"; do
        q=$(best qemu-system-x86_64 -accel tcg "${DX[@]}" -kernel "$OUT/compute-$n.mb.elf")
        j=$(best "$ROOT/jvisor" -accel tcg "${DX[@]}" -kernel "$OUT/compute-$n.elf")
        if [[ -z "$q0" ]]; then q0=$q; j0=$j; fi
        qd=$(echo "$q - $q0" | bc -l); jd=$(echo "$j - $j0" | bc -l)
        steps=$(( (n - np) * PER_ITER ))
        # MIPS over the step from the previous size: the speed the engine runs at by now
        qm=$(echo "if ($qd - $qp > 0) $steps / ($qd - $qp) / 1000000 else 0" | bc -l)
        jm=$(echo "if ($jd - $jp > 0) $steps / ($jd - $jp) / 1000000 else 0" | bc -l)
        printf '%11d %12d | %10.3f %10.1f | %10.3f %10.1f\n' "$n" $((n * PER_ITER)) "$qd" "$qm" "$jd" "$jm"
        qp=$qd; jp=$jd; np=$n
    done
    exit 0
fi
q_s=$(best qemu-system-x86_64 -accel tcg "${DX[@]}" -kernel "$OUT/compute-$SMALL.mb.elf")
q_l=$(best qemu-system-x86_64 -accel tcg "${DX[@]}" -kernel "$OUT/compute-$LARGE.mb.elf")
j_s=$(best "$ROOT/jvisor" -accel tcg "${DX[@]}" -kernel "$OUT/compute-$SMALL.elf")
j_l=$(best "$ROOT/jvisor" -accel tcg "${DX[@]}" -kernel "$OUT/compute-$LARGE.elf")
insns=$(( (LARGE - SMALL) * PER_ITER ))
q_mips=$(echo "$insns / ($q_l - $q_s) / 1000000" | bc -l)
j_mips=$(echo "$insns / ($j_l - $j_s) / 1000000" | bc -l)
printf 'guest instructions measured: %d (%d-instruction loop, %d vs %d iterations), best of %d\n' "$insns" "$PER_ITER" "$LARGE" "$SMALL" "$REPS"
printf 'QEMU 7.2 TCG : %8.1f MIPS\n' "$q_mips"
printf 'jvisor tcg   : %8.1f MIPS\n' "$j_mips"
printf 'ratio jvisor/QEMU: %.3f\n' "$(echo "$j_mips / $q_mips" | bc -l)"
