#!/usr/bin/env bash
# Network benchmark: TCP throughput over virtio-net on a TAP device, guest -> host and host -> guest,
# with the same demo guest (Debian's cloud kernel + busybox initramfs) and the same command line
# (-netdev tap,...,script=no,downscript=no -device virtio-net-pci,netdev=...) on jvisor tcg and on
# QEMU TCG, in the same run, with ratios. The guest sends a file of MIB MiB (zeros, in tmpfs) with
# busybox nc to a Java sink on the host, then reads as much from a Java source (bench/NetPeer.java);
# the host side times each transfer. Also the guest's ping round trip to the host. Then the device model's own cost per frame (VirtioNetBench: µs per 1514-byte frame,
# tx and rx, ring + device + copy, no guest).
# Needs root (it creates a tap, removed at the end). Usage: bench/net.sh [MIB]   (default 16)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
MIB="${1:-16}"
BYTES=$((MIB * 1024 * 1024))
mkdir -p "$OUT"
command -v qemu-system-x86_64 >/dev/null || { echo "net.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }
JAVA_BIN=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java

"$ROOT/jvisor" build
"$ROOT/jvisor" guest >&2
export JVISOR_NO_BUILD=1
G="$ROOT/build/guest"

TAP="jvb$(($$ % 100000))"
NET="10.197.$(($$ % 250 + 1))"
HOST="$NET.1"
GUEST="$NET.2"
ip tuntap add "$TAP" mode tap || { echo "net.sh: cannot create tap $TAP (run as root)" >&2; exit 1; }
trap 'ip link del "$TAP" 2>/dev/null || true' EXIT
ip addr add "$HOST/24" dev "$TAP"
ip link set "$TAP" up

# The file to send is made in tmpfs first: busybox nc reading a pipe from dd moves 1 KiB per
# system call, which would measure the guest's pipe, not the network.
CMD="ip addr add $GUEST/24 dev eth0; ip link set eth0 up; ping -c 1 -W 20 $HOST >/dev/null; \
dd if=/dev/zero of=/tmp/up bs=65536 count=$((BYTES / 65536)) 2>/dev/null; nc $HOST 5201 </tmp/up; rm /tmp/up; \
nc $HOST 5202 </dev/null >/dev/null; ping -c 10 -i 0.2 $HOST | tail -1; echo NET-BENCH-DONE"
B64=$(printf '%s' "$CMD" | base64 -w0)
COMMON=(-m 512M -nographic -no-reboot -kernel "$G/vmlinuz" -initrd "$G/initramfs.cpio.gz"
        -append "console=ttyS0 quiet jvisor.cmd=b64:$B64"
        -netdev "tap,id=net0,ifname=$TAP,script=no,downscript=no" -device virtio-net-pci,netdev=net0)

# run NAME CMD...: boots with the two host peers listening; prints "up_MBps down_MBps"
run() {
    local name="$1"; shift
    local log="$OUT/net-$name.log"
    "$JAVA_BIN" "$ROOT/bench/NetPeer.java" sink "$HOST" 5201 "$BYTES" >"$OUT/net-$name-up.txt" 2>/dev/null &
    local sink=$!
    "$JAVA_BIN" "$ROOT/bench/NetPeer.java" source "$HOST" 5202 "$BYTES" >"$OUT/net-$name-down.txt" 2>/dev/null &
    local source=$!
    sleep 3   # the source launcher compiles NetPeer before it listens
    timeout 900 "$@" </dev/null >"$log" 2>&1 || true
    wait "$sink" "$source" || true
    grep -q NET-BENCH-DONE "$log" || { echo "net.sh: $name did not finish the transfers; see $log" >&2; exit 1; }
    local ub us db ds
    read -r ub us <"$OUT/net-$name-up.txt"
    read -r db ds <"$OUT/net-$name-down.txt"
    [[ "$ub" == "$BYTES" && "$db" == "$BYTES" ]] || { echo "net.sh: $name moved $ub / $db of $BYTES bytes" >&2; exit 1; }
    local rtt
    rtt=$(sed -n 's:^round-trip min/avg/max = [0-9.]*/\([0-9.]*\)/.*:\1:p' "$log")
    echo "$(echo "$ub / $us / 1048576" | bc -l) $(echo "$db / $ds / 1048576" | bc -l) ${rtt:-nan}"
}

q=$(run qemu qemu-system-x86_64 -accel tcg "${COMMON[@]}")
j=$(run jvisor "$ROOT/jvisor" -accel tcg "${COMMON[@]}")
read -r qu qd qr <<<"$q"
read -r ju jd jr <<<"$j"
echo "TCP over virtio-net + tap, $MIB MiB each way (MiB/s, timed on the host); ping RTT average"
printf '%-16s %14s %14s %12s\n' "VMM" "guest->host" "host->guest" "ping (ms)"
printf '%-16s %14.2f %14.2f %12s\n' "QEMU 7.2 TCG" "$qu" "$qd" "$qr"
printf '%-16s %14.2f %14.2f %12s\n' "jvisor tcg" "$ju" "$jd" "$jr"
printf 'ratio jvisor/QEMU: %.2f (guest->host), %.2f (host->guest)\n' "$(echo "$ju / $qu" | bc -l)" "$(echo "$jd / $qd" | bc -l)"

echo "device model alone (VirtioNetBench):"
M="$HOME/.m2/repository"
V=$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' "$ROOT/pom.xml")
jar() { find "$M/$1" -name "$2" | sort | tail -1; }
CP="$ROOT/target/classes:$ROOT/target/test-classes:$(jar org/junit/jupiter/junit-jupiter-api/$V "junit-jupiter-api-$V.jar"):$(jar org/junit/platform/junit-platform-commons/$V "junit-platform-commons-$V.jar"):$(jar org/opentest4j "opentest4j-*.jar"):$(jar org/apiguardian "apiguardian-api-*.jar")"
[[ -d "$ROOT/target/test-classes/org/jvisor/devices/virtio" ]] || (cd "$ROOT" && mvn -B -ntp -q test-compile)
"$JAVA_BIN" --enable-native-access=ALL-UNNAMED -cp "$CP" org.jvisor.devices.virtio.VirtioNetBench
