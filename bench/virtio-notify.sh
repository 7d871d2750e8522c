#!/usr/bin/env bash
# Cost of a virtio queue notification: guests/virtiorng.c (built here with REQUESTS = N_SMALL and
# N_LARGE; each run does 3 * REQUESTS requests: REQUESTS polled, REQUESTS polled after moving the
# BAR, REQUESTS each waiting in HLT for its MSI-X interrupt) on jvisor kvm
# with and without ioeventfd, jvisor tcg, and QEMU (tcg, and kvm if QEMU can use /dev/kvm here) on
# the same guest in the same run. Microseconds per request are the difference in wall time over the
# difference in requests (best of REPS), so start-up cancels out; exits per request come from
# jvisor's -trace exits totals the same way.
# Usage: bench/virtio-notify.sh [N_LARGE] [REPS]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out/virtio-notify"
N_SMALL=200
N_LARGE="${1:-5000}"
REPS="${2:-3}"
mkdir -p "$OUT"

"$ROOT/jvisor" build
export JVISOR_NO_BUILD=1
# shellcheck source=bench/c-guest.sh
. "$ROOT/bench/c-guest.sh"
build_c_guest "$OUT" virtiorng "$N_SMALL" "$N_LARGE"

now() { date +%s.%N; }
# best-of-REPS wall time of "$@ GUEST" for GUEST = $1 (file name part), exit status 33 required
best() {
    local guest=$1; shift
    local best="" t0 t1 d st
    for ((r = 0; r < REPS; r++)); do
        t0=$(now); set +e; "$@" "$guest" >/dev/null 2>&1 </dev/null; st=$?; set -e; t1=$(now)
        [[ $st -eq 33 ]] || { echo "virtio-notify: '$* $guest' exited with $st" >&2; return 1; }
        d=$(echo "$t1 - $t0" | bc -l)
        if [[ -z "$best" ]] || (( $(echo "$d < $best" | bc -l) )); then best=$d; fi
    done
    echo "$best"
}
exits() { # total exits of one jvisor run: $1 guest, rest: command
    local guest=$1; shift
    { "$@" -trace exits -kernel "$guest" 2>&1 </dev/null || true; } | awk '/^total/ {print $2}'
}
DX=(-m 256M -device isa-debug-exit,iobase=0xf4,iosize=0x04)
JV=("$ROOT/jvisor" -serial none "${DX[@]}")
REQ=$(( 3 * (N_LARGE - N_SMALL) ))
us() { echo "($2 - $1) * 1000000 / $REQ" | bc -l; }
printf '%d requests measured (difference of 3x%d and 3x%d), best of %d\n' "$REQ" "$N_LARGE" "$N_SMALL" "$REPS"
printf '%-28s %12s %16s\n' "VMM" "us/request" "exits/request"
row() { # label, command... (jvisor commands get an exits column)
    local label=$1; shift
    local s l es el
    s=$(best "$OUT/virtiorng-$N_SMALL$SUFFIX" "$@" -kernel) || { printf '%-28s %12s\n' "$label" "failed"; return; }
    l=$(best "$OUT/virtiorng-$N_LARGE$SUFFIX" "$@" -kernel) || { printf '%-28s %12s\n' "$label" "failed"; return; }
    if [[ "$1" == "$ROOT/jvisor" ]]; then
        es=$(exits "$OUT/virtiorng-$N_SMALL$SUFFIX" "$@"); el=$(exits "$OUT/virtiorng-$N_LARGE$SUFFIX" "$@")
        printf '%-28s %12.2f %16.3f\n' "$label" "$(us "$s" "$l")" "$(echo "($el - $es) / $REQ" | bc -l)"
    else
        printf '%-28s %12.2f %16s\n' "$label" "$(us "$s" "$l")" "-"
    fi
}
SUFFIX=.elf
if [[ -r /dev/kvm && -w /dev/kvm ]]; then
    row "jvisor kvm, ioeventfd=on" "${JV[@]}" -accel kvm -device virtio-rng-pci,ioeventfd=on
    row "jvisor kvm, ioeventfd=off" "${JV[@]}" -accel kvm -device virtio-rng-pci,ioeventfd=off
fi
row "jvisor tcg" "${JV[@]}" -accel tcg -device virtio-rng-pci
if command -v qemu-system-x86_64 >/dev/null; then
    SUFFIX=.mb.elf
    Q=(qemu-system-x86_64 -display none -serial none -monitor none -nic none -no-reboot "${DX[@]}" -device virtio-rng-pci)
    if [[ -r /dev/kvm && -w /dev/kvm ]]; then
        row "QEMU kvm (ioeventfd)" "${Q[@]}" -accel kvm
    fi
    row "QEMU tcg" "${Q[@]}" -accel tcg
else
    echo "(qemu-system-x86_64 not installed: no QEMU rows)"
fi
