#!/usr/bin/env bash
# Boot benchmark: the demo guest (Debian's cloud kernel + busybox initramfs) with the same command
# line on jvisor tcg and on QEMU TCG, in the same run. The guest's /init prints a marker and powers
# off. Reported per VMM: the guest's uptime at "Run /init" (from the kernel log), wall time from
# start to power-off, peak RSS, and for jvisor its own memory (RssAnon + RssFile less the resident
# part of the guest-RAM mapping, found in /proc/PID/smaps by its size), with ratios jvisor/QEMU.
# Usage: bench/boot.sh [REPS]    (QEMU 7.2 comes from Debian: apt-get install qemu-system-x86)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
REPS="${1:-1}"
mkdir -p "$OUT"
command -v qemu-system-x86_64 >/dev/null || { echo "boot.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }

"$ROOT/jvisor" build
"$ROOT/jvisor" guest >&2
"$ROOT/jvisor" aot     # the AOT cache, trained on the demo guest (the "no AOT cache" row runs without it)
export JVISOR_NO_BUILD=1
G="$ROOT/build/guest"
APPEND="console=ttyS0 jvisor.test=BOOT-BENCH-MARKER"
RAM_KIB=$((512 * 1024))
COMMON=(-m 512M -nographic -no-reboot -kernel "$G/vmlinuz" -initrd "$G/initramfs.cpio.gz" -append "$APPEND")

# run NAME CMD...: runs to completion, samples memory every 100 ms; prints "wall uptime_init peak_rss_kib own_kib"
run() {
    local name="$1"; shift
    local log="$OUT/boot-$name.log" start end pid peak=0 own=0 tick=0
    start=$(date +%s.%N)
    "$@" </dev/null >"$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [[ -r /proc/$pid/status ]]; then
            local hwm anon file ram
            hwm=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
            [[ -n "$hwm" ]] && (( hwm > peak )) && peak=$hwm
            # own memory every 0.5 s (smaps is long): guest RAM is private memory (mem-merge), in RssAnon
            if (( tick++ % 5 == 0 )); then
                anon=$(awk '/^RssAnon/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
                file=$(awk '/^RssFile/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
                ram=$(awk -v want="$RAM_KIB" '/^Size:/ {r = ($2 == want)} /^Rss:/ && r {s += $2; r = 0} END {print s + 0}' \
                    /proc/$pid/smaps 2>/dev/null || echo 0)
                [[ -n "$anon" && -n "$file" && -n "$ram" ]] && (( anon + file - ram > own )) && own=$((anon + file - ram))
            fi
        fi
        sleep 0.1
    done
    wait "$pid" || true
    end=$(date +%s.%N)
    grep -q "BOOT-BENCH-MARKER" "$log" || { echo "boot.sh: $name did not print the marker; see $log" >&2; exit 1; }
    local uptime
    uptime=$(sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' "$log" | head -1)
    echo "$(echo "$end - $start" | bc -l) ${uptime:-nan} $peak $own"
}

best_of() {
    local name="$1"; shift
    local best="" line
    for ((r = 0; r < REPS; r++)); do
        line=$(run "$name" "$@")
        if [[ -z "$best" ]] || (( $(echo "$(cut -d' ' -f1 <<<"$line") < $(cut -d' ' -f1 <<<"$best")" | bc -l) )); then best="$line"; fi
    done
    echo "$best"
}

JAVA=("$ROOT/jvisor")   # the launcher execs the JVM with its flags: same pid, same settings as users get
q=$(best_of qemu qemu-system-x86_64 -accel tcg "${COMMON[@]}")
j=$(best_of jvisor-host "${JAVA[@]}" -accel tcg "${COMMON[@]}")
jg=$(best_of jvisor-guest "${JAVA[@]}" -accel tcg -machine pc,kernel-decompress=guest "${COMMON[@]}")
jn=$(JVISOR_NO_AOT=1 best_of jvisor-noaot "${JAVA[@]}" -accel tcg "${COMMON[@]}")
# QEMU 7.2 gives the kernel no RNG seed (7.1's setup_data seed was turned off again); jvisor does by
# default, which spares the unseeded kernel its BLAKE2s per random number. This row is the guest QEMU 7.2 boots.
js=$(best_of jvisor-noseed "${JAVA[@]}" -accel tcg -machine pc,rng-seed=off "${COMMON[@]}")

read -r qw qu qr qo <<<"$q"
read -r jw ju jr jo <<<"$j"
read -r gw gu gr go <<<"$jg"
read -r nw nu nr no <<<"$jn"
read -r sw su sr so <<<"$js"
printf '%-34s %10s %14s %14s %14s\n' "VMM" "wall (s)" "uptime@/init" "peak RSS MiB" "own MiB"
printf '%-34s %10.2f %14s %14d %14s\n' "QEMU 7.2 TCG" "$qw" "$qu" $((qr / 1024)) "-"
printf '%-34s %10.2f %14s %14d %14d\n' "jvisor tcg (host decompress)" "$jw" "$ju" $((jr / 1024)) $((jo / 1024))
printf '%-34s %10.2f %14s %14d %14d\n' "jvisor tcg (guest decompress)" "$gw" "$gu" $((gr / 1024)) $((go / 1024))
printf '%-34s %10.2f %14s %14d %14d\n' "jvisor tcg (host dec., no AOT cache)" "$nw" "$nu" $((nr / 1024)) $((no / 1024))
printf '%-34s %10.2f %14s %14d %14d\n' "jvisor tcg (host dec., rng-seed=off)" "$sw" "$su" $((sr / 1024)) $((so / 1024))
printf 'ratio jvisor/QEMU wall: %.2f (host decompress), %.2f (guest decompress), %.2f (no AOT cache), %.2f (rng-seed=off)\n' \
    "$(echo "$jw / $qw" | bc -l)" "$(echo "$gw / $qw" | bc -l)" "$(echo "$nw / $qw" | bc -l)" "$(echo "$sw / $qw" | bc -l)"
printf 'ratio jvisor/QEMU uptime at /init: %.2f (host decompress), %.2f (guest decompress), %.2f (no AOT cache), %.2f (rng-seed=off)\n' \
    "$(echo "$ju / $qu" | bc -l)" "$(echo "$gu / $qu" | bc -l)" "$(echo "$nu / $qu" | bc -l)" "$(echo "$su / $qu" | bc -l)"
