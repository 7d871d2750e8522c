#!/usr/bin/env bash
# Firmware boot benchmark: the GRUB disk image (org.jvisor.guest.DiskImageBuilder: MBR, GRUB,
# Debian's cloud kernel, an initrd, a busybox ext4 root) booted through SeaBIOS with the same
# command line on jvisor tcg and on QEMU TCG, in the same run. Reported per VMM: wall time from
# start to the MBR ("Booting from Hard Disk"), to GRUB booting its entry, to the login line and to power-off (the
# guest powers off at once: "poweroff" typed at the prompt), and the ratio jvisor/QEMU.
# With "debian" as the second argument the image is the Debian 12 qcow2 of
# org.jvisor.guest.DistroImageBuilder (debootstrap, initramfs-tools, sysvinit; built once into
# bench/out/debian.qcow2, as root), run with -snapshot and virtio-rng as cloud images are.
# MACHINE=q35 boots both on that machine (default pc).
# Usage: [MACHINE=q35] bench/firmware-boot.sh [REPS] [busybox|debian]   (needs qemu-system-x86, seabios,
# e2fsprogs; debian also debootstrap and qemu-utils)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
REPS="${1:-1}"
KIND="${2:-busybox}"
mkdir -p "$OUT"
command -v qemu-system-x86_64 >/dev/null || { echo "firmware-boot.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }
[[ -r /usr/share/seabios/bios-256k.bin ]] || { echo "firmware-boot.sh: SeaBIOS missing (apt-get install seabios)" >&2; exit 1; }

"$ROOT/jvisor" build
export JVISOR_NO_BUILD=1
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
case "$KIND" in
    busybox)
        IMG="$OUT/firmware-disk.img"
        "$JAVA" -cp "$ROOT/target/classes" org.jvisor.guest.DiskImageBuilder --out "$IMG" >/dev/null
        COMMON=(-accel tcg -M "${MACHINE:-pc}" -m 512M -nographic -drive "file=$IMG,format=raw,if=virtio")
        PROMPT="root@jvisor-disk:" ;;
    debian)
        IMG="$OUT/debian.qcow2"
        [[ -f "$IMG" ]] || "$JAVA" -cp "$ROOT/target/classes" org.jvisor.guest.DistroImageBuilder --out "$IMG" >/dev/null
        COMMON=(-accel tcg -M "${MACHINE:-pc}" -m 512M -nographic -snapshot -drive "file=$IMG,format=qcow2,if=virtio"
                -device virtio-rng-pci)
        PROMPT="root@jvisor-debian:" ;;
    *) echo "firmware-boot.sh: image kind '$KIND': expected busybox or debian" >&2; exit 1 ;;
esac

# run NAME CMD...: boots, types poweroff at the prompt; prints "mbr grub login end" (s since start)
run() {
    local name="$1"; shift
    local log="$OUT/firmware-boot-$name.log" fifo="$OUT/firmware-boot-$name.in"
    rm -f "$fifo"; mkfifo "$fifo"
    local start t_mbr="" t_grub="" t_login="" now
    start=$(date +%s.%N)
    "$@" <"$fifo" >"$log" 2>&1 &
    local pid=$!
    exec 9>"$fifo"
    while kill -0 "$pid" 2>/dev/null; do
        now=$(date +%s.%N)
        [[ -z "$t_mbr" ]] && grep -aq "Booting from Hard Disk" "$log" && t_mbr=$(echo "$now - $start" | bc -l)
        [[ -z "$t_grub" ]] && grep -aq "Booting \`" "$log" && t_grub=$(echo "$now - $start" | bc -l)
        if [[ -z "$t_login" ]] && grep -aq "login: root (automatic login)" "$log"; then
            t_login=$(echo "$now - $start" | bc -l)
        fi
        if [[ -n "$t_login" ]] && grep -aq "$PROMPT" "$log"; then
            printf 'poweroff\r' >&9
            break
        fi
        sleep 0.05
    done
    wait "$pid" || true
    exec 9>&-
    rm -f "$fifo"
    local end
    end=$(date +%s.%N)
    [[ -n "$t_login" ]] || { echo "firmware-boot.sh: $name never reached the login; see $log" >&2; exit 1; }
    echo "$t_mbr $t_grub $t_login $(echo "$end - $start" | bc -l)"
}

printf "%-8s %8s %8s %8s %8s\n" VMM mbr grub login end
for i in $(seq "$REPS"); do
    j=$(run jvisor "$ROOT/jvisor" "${COMMON[@]}")
    q=$(run qemu qemu-system-x86_64 "${COMMON[@]}")
    read -r jm jg jl je <<<"$j"
    read -r qm qg ql qe <<<"$q"
    printf "%-8s %8.2f %8.2f %8.2f %8.2f\n" jvisor "$jm" "$jg" "$jl" "$je"
    printf "%-8s %8.2f %8.2f %8.2f %8.2f\n" qemu "$qm" "$qg" "$ql" "$qe"
    printf "%-8s %8.2f %8.2f %8.2f %8.2f\n" ratio "$(echo "$jm / $qm" | bc -l)" "$(echo "$jg / $qg" | bc -l)" \
        "$(echo "$jl / $ql" | bc -l)" "$(echo "$je / $qe" | bc -l)"
done
