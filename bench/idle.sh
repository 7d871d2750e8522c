#!/usr/bin/env bash
# Idle cost: host CPU of the demo guest looping on `sleep 1`, QEMU 7.2 TCG and jvisor tcg one
# after the other with the same files and command line. Each VMM runs WAIT seconds (default 60,
# so the JIT has settled), then its process's CPU time is read over WINDOW seconds (default 10);
# for jvisor also split into its vCPU threads, HotSpot's JIT compiler threads and the rest.
# IDLE=prompt leaves the guest at its shell prompt instead (as bench/density.sh's guests idle);
# MACHINE=microvm runs both on that machine (default pc).
# Usage: [IDLE=prompt] [MACHINE=microvm] bench/idle.sh [WAIT] [WINDOW]
#        (QEMU 7.2 comes from Debian: apt-get install qemu-system-x86)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WAIT="${1:-60}"
WINDOW="${2:-10}"
command -v qemu-system-x86_64 >/dev/null || { echo "idle.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }
"$ROOT/jvisor" build
"$ROOT/jvisor" guest >&2
"$ROOT/jvisor" aot
export JVISOR_NO_BUILD=1
G="$ROOT/build/guest"
ENC=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' 'while true; do sleep 1; done')
APPEND="console=ttyS0 quiet jvisor.cmd=$ENC"
[[ "${IDLE:-loop}" == prompt ]] && APPEND="console=ttyS0 quiet"
COMMON=(-M "${MACHINE:-pc}" -m 512M -nographic -no-reboot -kernel "$G/vmlinuz" -initrd "$G/initramfs.cpio.gz"
        -append "$APPEND")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# thread_ticks PID: "vcpu jit other" CPU ticks of the process's threads so far (vCPU threads,
# HotSpot's compiler threads, the rest); a thread's name is its comm, which may hold spaces
thread_ticks() {
    local v=0 j=0 o=0 t n c
    for t in /proc/"$1"/task/*; do
        n=$(cat "$t/comm" 2>/dev/null) || continue
        c=$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}') || continue
        case "$n" in vcpu-*) v=$((v + c)) ;; C1\ Compiler*|C2\ Compiler*) j=$((j + c)) ;; *) o=$((o + c)) ;; esac
    done
    echo "$v $j $o"
}
pct() { echo "($1) * 100 / $(getconf CLK_TCK) / $WINDOW" | bc -l; }

# measure NAME CMD...: prints the process's CPU over the window, in percent of one core, and
# for a JVM (it has vCPU threads) how the vCPU threads, the JIT compiler threads and the rest share it
measure() {
    local name="$1"; shift
    # stdin a pipe that stays open and silent: at the prompt, the shell would end at EOF
    "$@" < <(sleep $((WAIT + WINDOW + 30))) >/dev/null 2>&1 &   # the launcher execs the JVM: same pid
    local pid=$!
    sleep "$WAIT"
    local t0 t1 a b
    t0=$(ticks "$pid"); a=($(thread_ticks "$pid")); sleep "$WINDOW"; t1=$(ticks "$pid"); b=($(thread_ticks "$pid"))
    kill "$pid"; wait "$pid" 2>/dev/null || true
    printf '%-16s %6.2f %% of a core' "$name" "$(pct "$t1 - $t0")"
    if (( b[0] > 0 )); then
        printf ' (vCPU %.2f, JIT compilers %.2f, other threads %.2f)' "$(pct "${b[0]} - ${a[0]}")" \
            "$(pct "${b[1]} - ${a[1]}")" "$(pct "${b[2]} - ${a[2]}")"
    fi
    printf ', load average %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
}
measure "QEMU 7.2 TCG" qemu-system-x86_64 -accel tcg "${COMMON[@]}"
measure "jvisor tcg" "$ROOT/jvisor" -accel tcg "${COMMON[@]}"
