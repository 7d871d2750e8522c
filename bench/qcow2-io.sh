#!/usr/bin/env bash
# qcow2 I/O without a guest: 4 KiB requests, one at a time, through jvisor's block layer
# (bench/Qcow2Io.java over BlockImages.open: Qcow2Backend and RawFileBackend) beside QEMU 7.2's
# own qcow2 driver (qemu-img bench -d 1, same images, same cache mode). Each write pass starts from
# a fresh image (qcow2: every 4 KiB write to a new cluster allocates; then the read passes read
# what it wrote). qemu-img bench is sequential only (-S steps through the image); the random rows
# are jvisor's alone. Needs a quiet machine; writes about 3 x MIB MiB under bench/out.
# Usage: bench/qcow2-io.sh [MIB] [CACHE]     (defaults 256 and none)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
MIB="${1:-256}"
CACHE="${2:-none}"
JAVA_BIN=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
mkdir -p "$OUT"
command -v qemu-img >/dev/null || { echo "qcow2-io.sh: qemu-img missing (apt-get install qemu-utils)" >&2; exit 1; }
(cd "$ROOT" && JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -B -ntp -q compile) >&2
COUNT=$((MIB * 256))

jv() {   # jv IMG FORMAT MODE
    "$JAVA_BIN" --enable-native-access=ALL-UNNAMED -cp "$ROOT/target/classes" "$ROOT/bench/Qcow2Io.java" \
        "$1" "$2" "$3" "$MIB" "$CACHE"
}
qb() {   # qb IMG FORMAT [-w]: qemu-img bench's line, as "MODE MB/s IOPS"
    local mode="$3" t
    t=$(qemu-img bench -f "$2" -t "$CACHE" -d 1 -s 4096 -c "$COUNT" ${4:-} "$1" | sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p')
    awk -v m="$mode" -v c="$COUNT" -v t="$t" 'BEGIN { printf "%-10s %8.1f MB/s %9.0f IOPS\n", m, c*4096/1e6/t, c/t }'
}
fresh() {   # fresh FORMAT IMG
    rm -f "$2"
    if [ "$1" = raw ]; then truncate -s "${MIB}M" "$2"; else qemu-img create -q -f qcow2 "$2" "${MIB}M"; fi
}

echo "# $(date -u +%F) MIB=$MIB cache=$CACHE load: $(cut -d' ' -f1-3 /proc/loadavg)"
for fmt in raw qcow2; do
    img="$OUT/qcow2-io.$fmt"
    echo "== jvisor $fmt"
    fresh "$fmt" "$img"; jv "$img" "$fmt" seqwrite; jv "$img" "$fmt" seqread
    fresh "$fmt" "$img"; jv "$img" "$fmt" randwrite; jv "$img" "$fmt" randread
    echo "== qemu-img bench $fmt"
    fresh "$fmt" "$img"; qb "$img" "$fmt" seqwrite -w; qb "$img" "$fmt" seqread
    rm -f "$img"
done
