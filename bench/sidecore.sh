#!/usr/bin/env bash
# Sidecore polling against samecore notification, on jvisor tcg and QEMU 7.2 TCG with the same demo
# guest and command line: virtio-blk-pci on a raw image served on the vCPU path (samecore, no
# iothread), by -object iothread with poll-max-ns=0 (another thread, woken by every notify), with
# QEMU's default poll-max-ns (32768) and with a window a tcg guest's round trip fits in (20 ms).
# In the guest: COUNT sequential 4 KiB O_DIRECT reads with dd (one request in flight), timed by
# /proc/uptime. Prints notifies per request (jvisor: the -trace exits count of queue notifications
# the guest wrote; QEMU has no such count on tcg, where its ioeventfd takes them untraced), µs per
# read, and host CPU per read (the process's user+sys time beyond a COUNT=0 samecore boot, /COUNT).
# One run each: the numbers move with the machine's load, printed at the end.
# Usage: bench/sidecore.sh [COUNT]   (default 2000)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
COUNT="${1:-2000}"
mkdir -p "$OUT"
command -v qemu-system-x86_64 >/dev/null || { echo "sidecore.sh: qemu-system-x86_64 missing" >&2; exit 1; }
"$ROOT/jvisor" build
"$ROOT/jvisor" guest >&2
export JVISOR_NO_BUILD=1
G="$ROOT/build/guest"
IMG="$OUT/sidecore.img"
head -c $((COUNT * 4096 + (1 << 20))) /dev/urandom >"$IMG"

# cmd N: the guest's command for N reads
cmd() {
    printf '%s' "t0=\$(cat /proc/uptime); dd if=/dev/vda of=/dev/null bs=4k count=$1 iflag=direct 2>/dev/null; t1=\$(cat /proc/uptime); echo \"T \$t0 \$t1\"; poweroff -f" | base64 -w0
}

# run VMM N OBJECT DEVICE-OPTIONS: prints "µs-per-read cpu-seconds notifies"
run() {
    local log="$OUT/sidecore.log"
    /usr/bin/time -f 'CPU %U %S' -o "$OUT/sidecore.time" timeout 900 $1 -accel tcg -m 256M -nographic -no-reboot \
        -kernel "$G/vmlinuz" -initrd "$G/initramfs.cpio.gz" -append "console=ttyS0 quiet jvisor.cmd=b64:$(cmd "$2")" $3 \
        -drive file="$IMG",format=raw,if=none,id=d0,readonly=on -device virtio-blk-pci,drive=d0"$4" </dev/null >"$log" 2>&1 || true
    local us cpu notifies
    us=$(grep -a '^T ' "$log" | awk -v n="$2" 'n > 0 {printf "%.0f", ($4 - $2) * 1e6 / n}')
    cpu=$(awk '/^CPU/ {print $2 + $3}' "$OUT/sidecore.time")
    notifies=$(grep -a '^virtio-blk0@' "$log" | awk '{print $2}')
    echo "${us:--} $cpu ${notifies:--}"
}

row() {   # row VMM LABEL OBJECT DEVICE-OPTIONS BASE-CPU
    read -r us cpu notifies <<<"$(run "$1" "$COUNT" "$3" "$4")"
    local per="-"
    [ "$notifies" != "-" ] && per=$(awk -v a="$notifies" -v n="$COUNT" 'BEGIN {printf "%.3f", a / n}')
    local cpuper
    cpuper=$(awk -v c="$cpu" -v b="$5" -v n="$COUNT" 'BEGIN {printf "%.0f", (c - b) * 1e6 / n}')
    printf '%-12s %-38s %10s %8s µs %8s µs\n' "$2" "$6" "$per" "$us" "$cpuper"
}

printf '%-12s %-38s %10s %11s %11s\n' VMM mode notify/req 'µs/read' 'CPU µs/read'
for vmm in jvisor qemu; do
    bin="$ROOT/jvisor -trace exits"
    [ "$vmm" = qemu ] && bin="qemu-system-x86_64 -nodefaults -serial stdio -monitor none"
    read -r _ base _ <<<"$(run "$bin" 0 "" "")"
    row "$bin" "$vmm" "" "" "$base" "samecore"
    row "$bin" "$vmm" "-object iothread,id=io0,poll-max-ns=0" ",iothread=io0" "$base" "iothread poll-max-ns=0"
    row "$bin" "$vmm" "-object iothread,id=io0" ",iothread=io0" "$base" "iothread poll-max-ns=32768 (default)"
    row "$bin" "$vmm" "-object iothread,id=io0,poll-max-ns=20000000" ",iothread=io0" "$base" "iothread poll-max-ns=20000000"
done
uptime
