#!/usr/bin/env bash
# Warm starts from shared translations (issue 13): boots the demo guest N times in one JVM through
# the Java API, each VM on its own translations, then all sharing one TranslationCache, and prints
# the seconds from start to the guest's ready line per boot. QEMU 7.2 TCG boots the same guest to
# the same line once for reference (every QEMU boot is a first boot: it shares nothing).
# Usage: bench/shared-boot.sh [N]    (default 5)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-5}"
"$ROOT/jvisor" build
"$ROOT/jvisor" guest >&2
G="$ROOT/build/guest"
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
"$JAVA" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -cp "$ROOT/target/jvisor.jar" "$ROOT/bench/SharedBoot.java" "$G" "$N"
if command -v qemu-system-x86_64 >/dev/null; then
    log=$(mktemp)
    start=$(date +%s.%N)
    qemu-system-x86_64 -accel tcg -m 512M -nographic -no-reboot -kernel "$G/vmlinuz" -initrd "$G/initramfs.cpio.gz" \
        -append "console=ttyS0" </dev/null >"$log" 2>&1 &
    pid=$!
    until grep -q "jvisor-guest: ready" "$log"; do sleep 0.01; done
    end=$(date +%s.%N)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -f "$log"
    printf 'QEMU 7.2 TCG  %5.2f   (seconds to the same line, one boot)\n' "$(echo "$end - $start" | bc -l)"
fi
