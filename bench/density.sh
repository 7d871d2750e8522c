#!/usr/bin/env bash
# Density (issue 13): N idle 128 MiB microvm demo guests in one jvisor process (Java API, one
# shared TranslationCache): boot time per guest, host CPU while all idle, own memory per guest,
# every guest answering on its console. QEMU needs a process per guest; for comparison run
# bench/idle.sh (one guest each).
# Usage: [KSM=on] bench/density.sh [N|max] [IDLE_SECONDS] [HEAP]    (defaults 10, 30, 2g; max: until
# the host has less than 2 GiB available or the idle guests take 3/4 of its cores, e.g.
# KSM=on bench/density.sh max 60 8g)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-10}"
IDLE="${2:-30}"
HEAP="${3:-2g}"
"$ROOT/jvisor" build >&2
"$ROOT/jvisor" guest >&2
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
# KSM=on: the host's same-page merging runs for the measurement (guest RAM is mergeable by
# default, -machine mem-merge=on as QEMU's), scanning KSM_PAGES pages every 20 ms (default 1000);
# the host's settings are put back afterwards. Needs root and a kernel with KSM.
KSMDIR=/sys/kernel/mm/ksm
if [[ "${KSM:-off}" == on ]]; then
    [[ -w $KSMDIR/run ]] || { echo "density.sh: KSM=on needs a writable $KSMDIR (root, CONFIG_KSM)" >&2; exit 1; }
    saved=("$(cat $KSMDIR/run)" "$(cat $KSMDIR/pages_to_scan)" "$(cat $KSMDIR/sleep_millisecs)")
    trap 'echo "${saved[1]}" > $KSMDIR/pages_to_scan; echo "${saved[2]}" > $KSMDIR/sleep_millisecs; echo "${saved[0]}" > $KSMDIR/run' EXIT
    echo "${KSM_PAGES:-1000}" > $KSMDIR/pages_to_scan
    echo 20 > $KSMDIR/sleep_millisecs
    echo 1 > $KSMDIR/run
fi
"$JAVA" -Xmx"$HEAP" -XX:+UseSerialGC --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -cp "$ROOT/target/jvisor.jar" \
    "$ROOT/bench/Density.java" "$ROOT/build/guest" "$N" "$IDLE"
