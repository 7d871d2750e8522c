#!/usr/bin/env bash
# virtio-blk's data plane on kvm: guests/virtioblk.c (built here with REQUESTS = N_SMALL and
# N_LARGE) writes and reads back 4 KiB blocks, one request in flight, each waiting in HLT for its
# MSI-X interrupt, on a raw image in bench/out, through:
#   samecore     virtio-blk-pci,ioeventfd=off: the notify is an MMIO exit served on the vCPU thread
#   ioeventfd    virtio-blk-pci: the notify is a KVM ioeventfd, served on the device's I/O thread
#   sidecore     virtio-blk-pci,iothread=io0 with -object iothread,poll-max-ns=32768 (QEMU's default)
#   vhost-user   vhost-user-blk-pci served by qemu-storage-daemon, its completions relayed by jvisor
#                (x-irqfd=off) or raised by the kernel (irqfd, the default)
# and the same guest and options on QEMU 7.2 -accel kvm where QEMU can use /dev/kvm. µs per
# request is the difference in wall time over the difference in requests (best of REPS), so start-up
# cancels out; exits per request come from jvisor's -trace exits totals the same way; host CPU per
# request is the VMM's user+sys plus qemu-storage-daemon's (vhost-user rows) the same way (best of REPS).
# jvisor rows also give the completions jvisor relayed per request (vhost-user only).
# Usage: bench/kvm-blk.sh [N_LARGE] [REPS]   (default 2000 3)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out/kvm-blk"
N_SMALL=100
N_LARGE="${1:-2000}"
REPS="${2:-3}"
mkdir -p "$OUT"
[[ -r /dev/kvm && -w /dev/kvm ]] || { echo "kvm-blk.sh: needs /dev/kvm" >&2; exit 1; }
QSD=/usr/bin/qemu-storage-daemon
[[ -x $QSD ]] || { echo "kvm-blk.sh: needs qemu-storage-daemon (apt-get install qemu-system-common)" >&2; exit 1; }

"$ROOT/jvisor" build
export JVISOR_NO_BUILD=1
# shellcheck source=bench/c-guest.sh
. "$ROOT/bench/c-guest.sh"
build_c_guest "$OUT" virtioblk "$N_SMALL" "$N_LARGE"
IMG="$OUT/disk.raw"          # -drive rows
VIMG="$OUT/vhost-disk.raw"   # qemu-storage-daemon's (it holds a write lock on it)
rm -f "$IMG" "$VIMG"
truncate -s 64M "$IMG" "$VIMG"

SOCK="$OUT/qsd.sock"
rm -f "$SOCK"
"$QSD" --blockdev driver=file,node-name=f0,filename="$VIMG" \
    --export type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path="$SOCK",writable=on >"$OUT/qsd.log" 2>&1 &
QSD_PID=$!
trap 'kill $QSD_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.05; done
[[ -S $SOCK ]] || { echo "kvm-blk.sh: qemu-storage-daemon made no socket" >&2; cat "$OUT/qsd.log" >&2; exit 1; }
qsd_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$QSD_PID/stat"; }   # seconds of user+sys (USER_HZ 100)

now() { date +%s.%N; }
# run GUEST BACKEND COMMAND...: prints "wall cpu exits relayed"; exit status 33 required
run() {
    local guest=$1 backend=$2; shift 2
    local t0 t1 st c0 c1 log="$OUT/run.log"
    c0=$(qsd_cpu)
    t0=$(now); set +e
    /usr/bin/time -f 'CPU %U %S' -o "$OUT/run.time" "$@" -kernel "$guest" >"$log" 2>&1 </dev/null; st=$?
    set -e; t1=$(now)
    c1=$(qsd_cpu)
    [[ $st -eq 33 ]] || { echo "kvm-blk: '$* -kernel $guest' exited with $st" >&2; tail -5 "$log" >&2; return 1; }
    local cpu exits relayed
    cpu=$(awk -v q="$(echo "$c1 - $c0" | bc -l)" -v b="$backend" '/^CPU/ {print $2 + $3 + (b ? q : 0)}' "$OUT/run.time")
    exits=$(awk '/^total/ {print $2}' "$log"); exits=${exits:-0}
    relayed=$(awk '/^-- vhost-user used-buffer/ {f = 1; next} f && /^vhost-user/ {print $2; exit}' "$log"); relayed=${relayed:-0}
    echo "$(echo "$t1 - $t0" | bc -l) $cpu $exits $relayed"
}
# best GUEST BACKEND COMMAND...: the smallest wall and smallest CPU of REPS runs, exits and relayed of the last
best() {
    local bw="" bc="" w c e r
    for ((i = 0; i < REPS; i++)); do
        read -r w c e r <<<"$(run "$@")" || return 1
        [[ -n $w ]] || return 1
        if [[ -z $bw ]] || (( $(echo "$w < $bw" | bc -l) )); then bw=$w; fi
        if [[ -z $bc ]] || (( $(echo "$c < $bc" | bc -l) )); then bc=$c; fi
    done
    echo "$bw $bc $e $r"
}
REQ=$(( N_LARGE - N_SMALL ))
printf '%d requests measured (difference of %d and %d), best of %d; load average %s\n' "$REQ" "$N_LARGE" "$N_SMALL" "$REPS" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %12s %14s %14s %14s\n' "VMM, mode" "us/request" "exits/request" "CPU us/request" "relayed/request"
row() { # label, backend (1: add qemu-storage-daemon's CPU), suffix, command...
    local label=$1 backend=$2 suffix=$3; shift 3
    local s l ws cs es rs wl cl el rl
    s=$(best "$OUT/virtioblk-$N_SMALL$suffix" "$backend" "$@") || { printf '%-40s %12s\n' "$label" failed; return; }
    l=$(best "$OUT/virtioblk-$N_LARGE$suffix" "$backend" "$@") || { printf '%-40s %12s\n' "$label" failed; return; }
    read -r ws cs es rs <<<"$s"; read -r wl cl el rl <<<"$l"
    if [[ $1 == "$ROOT/jvisor" ]]; then
        printf '%-40s %12.1f %14.3f %14.1f %14.3f\n' "$label" "$(echo "($wl - $ws) * 1000000 / $REQ" | bc -l)" \
            "$(echo "($el - $es) / $REQ" | bc -l)" "$(echo "($cl - $cs) * 1000000 / $REQ" | bc -l)" \
            "$(echo "($rl - $rs) / $REQ" | bc -l)"
    else
        printf '%-40s %12.1f %14s %14.1f %14s\n' "$label" "$(echo "($wl - $ws) * 1000000 / $REQ" | bc -l)" "-" \
            "$(echo "($cl - $cs) * 1000000 / $REQ" | bc -l)" "-"
    fi
}
MEM=(-m 256M -object memory-backend-memfd,id=mem,size=256M,share=on -machine memory-backend=mem
     -device isa-debug-exit,iobase=0xf4,iosize=0x04)
DRIVE=(-drive file="$IMG",format=raw,if=none,id=d0,cache=writeback)
VHOST=(-chardev socket,id=c0,path="$SOCK")
JV=("$ROOT/jvisor" -accel kvm -serial none -trace exits "${MEM[@]}")
row "jvisor kvm, samecore (ioeventfd=off)" 0 .elf "${JV[@]}" "${DRIVE[@]}" -device virtio-blk-pci,drive=d0,ioeventfd=off
row "jvisor kvm, ioeventfd" 0 .elf "${JV[@]}" "${DRIVE[@]}" -device virtio-blk-pci,drive=d0
row "jvisor kvm, sidecore (iothread, poll 32768)" 0 .elf "${JV[@]}" "${DRIVE[@]}" -object iothread,id=io0 \
    -device virtio-blk-pci,drive=d0,iothread=io0
row "jvisor kvm, vhost-user, relay (x-irqfd=off)" 1 .elf "${JV[@]}" "${VHOST[@]}" -device vhost-user-blk-pci,chardev=c0,num-queues=1,x-irqfd=off
row "jvisor kvm, vhost-user, irqfd" 1 .elf "${JV[@]}" "${VHOST[@]}" -device vhost-user-blk-pci,chardev=c0,num-queues=1
if command -v qemu-system-x86_64 >/dev/null; then
    Q=(qemu-system-x86_64 -accel kvm -display none -serial none -monitor none -nic none -no-reboot "${MEM[@]}")
    if timeout 20 "${Q[@]}" -kernel "$OUT/virtioblk-$N_SMALL.mb.elf" "${DRIVE[@]}" -device virtio-blk-pci,drive=d0 \
            >/dev/null 2>&1 </dev/null || [[ $? -eq 33 ]]; then
        row "QEMU 7.2 kvm, samecore (ioeventfd=off)" 0 .mb.elf "${Q[@]}" "${DRIVE[@]}" -device virtio-blk-pci,drive=d0,ioeventfd=off
        row "QEMU 7.2 kvm, ioeventfd" 0 .mb.elf "${Q[@]}" "${DRIVE[@]}" -device virtio-blk-pci,drive=d0
        row "QEMU 7.2 kvm, sidecore (iothread, poll 32768)" 0 .mb.elf "${Q[@]}" "${DRIVE[@]}" -object iothread,id=io0 \
            -device virtio-blk-pci,drive=d0,iothread=io0
        row "QEMU 7.2 kvm, vhost-user (irqfd)" 1 .mb.elf "${Q[@]}" "${VHOST[@]}" -device vhost-user-blk-pci,chardev=c0,num-queues=1
    else
        echo "(QEMU 7.2 cannot run this guest with -accel kvm here: no QEMU rows)"
    fi
else
    echo "(qemu-system-x86_64 not installed: no QEMU rows)"
fi
