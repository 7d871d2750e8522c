#!/usr/bin/env bash
# Density (issue 13): N idle 128 MiB microvm demo guests in one jvisor process (Java API, one
# shared TranslationCache): boot time per guest, host CPU while all idle, own memory per guest,
# every guest answering on its console. QEMU needs a process per guest; for comparison run
# bench/idle.sh (one guest each).
# Usage: bench/density.sh [N] [IDLE_SECONDS] [HEAP]    (defaults 10, 30, 2g)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-10}"
IDLE="${2:-30}"
HEAP="${3:-2g}"
"$ROOT/jvisor" build >&2
"$ROOT/jvisor" guest >&2
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
exec "$JAVA" -Xmx"$HEAP" -XX:+UseSerialGC --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -cp "$ROOT/target/jvisor.jar" \
    "$ROOT/bench/Density.java" "$ROOT/build/guest" "$N" "$IDLE"
