#!/usr/bin/env bash
# Block benchmark: virtio-blk as the guest sees it, on jvisor tcg and QEMU 7.2 TCG in the same run,
# with the same demo guest (Debian's cloud kernel + busybox initramfs), the same raw image and the
# same command line (-drive file=IMG,format=raw,if=virtio). In the guest, bench/blkbench.c (built
# static here and appended to the initramfs as a second cpio archive, which Linux unpacks too)
# measures with O_DIRECT: sequential write (then fsync) and read of MIB MiB in 1 MiB requests,
# and COUNT random 4 KiB reads. Then the device model's own cost per request (VirtioBlkBench:
# µs per 4 KiB read through ring + device + pread, no guest).
# Usage: bench/blk.sh [MIB] [COUNT]   (defaults 64 and 4000)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
MIB="${1:-64}"
COUNT="${2:-4000}"
mkdir -p "$OUT"
command -v qemu-system-x86_64 >/dev/null || { echo "blk.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }
command -v cpio >/dev/null || { echo "blk.sh: cpio missing (apt-get install cpio)" >&2; exit 1; }
JAVA_BIN=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java

"$ROOT/jvisor" build
"$ROOT/jvisor" guest >&2
export JVISOR_NO_BUILD=1
G="$ROOT/build/guest"

# The guest tool, in an initramfs of its own appended to the demo guest's.
STAGE="$OUT/blk-initrd"
rm -rf "$STAGE" && mkdir -p "$STAGE/bin"
gcc -O2 -static -Wall -o "$STAGE/bin/blkbench" "$ROOT/bench/blkbench.c"
(cd "$STAGE" && printf 'bin\nbin/blkbench\n' | cpio -o -H newc --quiet | gzip -1) >"$OUT/blkbench.cpio.gz"
cat "$G/initramfs.cpio.gz" "$OUT/blkbench.cpio.gz" >"$OUT/blk-initramfs.cpio.gz"

IMG="$OUT/blk.img"
CMD="blkbench /dev/vda seqwrite $MIB; blkbench /dev/vda seqread $MIB; blkbench /dev/vda randread $COUNT; echo BLK-BENCH-DONE"
B64=$(printf '%s' "$CMD" | base64 -w0)

# run NAME CMD...: a fresh image each time; prints "write_MBps read_MBps iops"
run() {
    local name="$1"; shift
    local log="$OUT/blk-$name.log"
    rm -f "$IMG"
    truncate -s $(((MIB + 64) * 1024 * 1024)) "$IMG"
    timeout 1200 "$@" -m 512M -nographic -no-reboot -kernel "$G/vmlinuz" -initrd "$OUT/blk-initramfs.cpio.gz" \
        -append "console=ttyS0 quiet jvisor.cmd=b64:$B64" -drive "file=$IMG,format=raw,if=virtio" \
        </dev/null >"$log" 2>&1 || true
    grep -q BLK-BENCH-DONE "$log" || { echo "blk.sh: $name did not finish; see $log" >&2; exit 1; }
    local wb ws rb rs n ns
    read -r _ wb ws < <(grep '^seqwrite ' "$log" | tr -d '\r')
    read -r _ rb rs < <(grep '^seqread ' "$log" | tr -d '\r')
    read -r _ n ns < <(grep '^randread ' "$log" | tr -d '\r')
    echo "$(echo "$wb / $ws / 1048576" | bc -l) $(echo "$rb / $rs / 1048576" | bc -l) $(echo "$n / $ns" | bc -l)"
}

q=$(run qemu qemu-system-x86_64 -accel tcg)
j=$(run jvisor "$ROOT/jvisor" -accel tcg)
read -r qw qr qi <<<"$q"
read -r jw jr ji <<<"$j"
echo "virtio-blk in the guest, O_DIRECT: $MIB MiB sequential (1 MiB requests), $COUNT random 4 KiB reads"
printf '%-16s %14s %14s %16s\n' "VMM" "write MiB/s" "read MiB/s" "4K randread IOPS"
printf '%-16s %14.1f %14.1f %16.0f\n' "QEMU 7.2 TCG" "$qw" "$qr" "$qi"
printf '%-16s %14.1f %14.1f %16.0f\n' "jvisor tcg" "$jw" "$jr" "$ji"
printf 'ratio jvisor/QEMU: %.2f (write), %.2f (read), %.2f (IOPS)\n' \
    "$(echo "$jw / $qw" | bc -l)" "$(echo "$jr / $qr" | bc -l)" "$(echo "$ji / $qi" | bc -l)"

echo "device model alone (VirtioBlkBench):"
M="$HOME/.m2/repository"
V=$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' "$ROOT/pom.xml")
jar() { find "$M/$1" -name "$2" | sort | tail -1; }
CP="$ROOT/target/classes:$ROOT/target/test-classes:$(jar org/junit/jupiter/junit-jupiter-api/$V "junit-jupiter-api-$V.jar"):$(jar org/junit/platform/junit-platform-commons/$V "junit-platform-commons-$V.jar"):$(jar org/opentest4j "opentest4j-*.jar"):$(jar org/apiguardian "apiguardian-api-*.jar")"
[[ -d "$ROOT/target/test-classes/org/jvisor/devices/virtio" ]] || (cd "$ROOT" && mvn -B -ntp -q test-compile)
"$JAVA_BIN" --enable-native-access=ALL-UNNAMED -cp "$CP" org.jvisor.devices.virtio.VirtioBlkBench
