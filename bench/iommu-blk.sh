#!/usr/bin/env bash
# The cost of the VT-d unit per 4 KiB virtio-blk request, as the guest sees it, on jvisor tcg and
# QEMU 7.2 TCG with the same demo guest and command line: -M q35, virtio-blk-pci on a raw image,
# without an IOMMU, then -device intel-iommu with iommu_platform=on and intel_iommu=on, strict
# (iommu.strict=1: an IOTLB invalidation and a wait per unmap) and lazy (batched), and strict with
# device-iotlb=on and ats=on (a device-TLB per function and a device-IOTLB invalidation per unmap;
# QEMU 7.2 shows no ATS capability on its root bus, so there it is strict with ECAP.DT). In the
# guest: COUNT sequential 4 KiB O_DIRECT reads with dd, timed by /proc/uptime. Prints µs per request.
# Usage: bench/iommu-blk.sh [COUNT]   (default 4096; VMMS="jvisor" to leave QEMU out)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
COUNT="${1:-4096}"
mkdir -p "$OUT"
command -v qemu-system-x86_64 >/dev/null || { echo "iommu-blk.sh: qemu-system-x86_64 missing" >&2; exit 1; }
"$ROOT/jvisor" build
"$ROOT/jvisor" guest >&2
export JVISOR_NO_BUILD=1
G="$ROOT/build/guest"
IMG="$OUT/iommu-blk.img"
head -c $((COUNT * 4096 + (1 << 20))) /dev/urandom >"$IMG"
CMD="t0=\$(cat /proc/uptime); dd if=/dev/vda of=/dev/null bs=4k count=$COUNT iflag=direct 2>/dev/null; t1=\$(cat /proc/uptime); echo \"T \$t0 \$t1\""
B64=$(printf '%s' "$CMD" | base64 -w0)

# run VMM APPEND IOMMU-DEVICE BLK-OPTIONS: µs per request
run() {
    timeout 600 $1 -M q35 -accel tcg -m 512M -nographic -no-reboot -kernel "$G/vmlinuz" -initrd "$G/initramfs.cpio.gz" \
        -append "console=ttyS0 quiet $2 jvisor.cmd=b64:$B64" $3 \
        -drive file="$IMG",format=raw,if=none,id=d0,readonly=on -device virtio-blk-pci,drive=d0"$4" </dev/null 2>&1 \
        | grep -a '^T ' | awk -v n="$COUNT" '{printf "%.0f", ($4 - $2) * 1e6 / n}'
}

printf '%-10s %10s %10s %10s %10s\n' VMM none strict lazy strict+ats
for vmm in ${VMMS:-jvisor qemu}; do
    bin="$ROOT/jvisor"
    [ "$vmm" = qemu ] && bin="qemu-system-x86_64 -nodefaults -serial stdio -monitor none"
    none=$(run "$bin" "" "" ",disable-legacy=on")
    strict=$(run "$bin" "intel_iommu=on iommu.strict=1" "-device intel-iommu" ",iommu_platform=on,disable-legacy=on")
    lazy=$(run "$bin" "intel_iommu=on" "-device intel-iommu" ",iommu_platform=on,disable-legacy=on")
    ats=$(run "$bin" "intel_iommu=on iommu.strict=1" "-device intel-iommu,device-iotlb=on" \
        ",iommu_platform=on,disable-legacy=on,ats=on")
    printf '%-10s %8s µs %8s µs %8s µs %8s µs\n' "$vmm" "$none" "$strict" "$lazy" "$ats"
done
uptime
