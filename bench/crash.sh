#!/usr/bin/env bash
# Crash consistency, many runs (issue 16): CrashConsistencyTest with N SIGKILLs per configuration
# (raw cache=writeback, raw cache=none, qcow2 cache=writeback). The guest writes fsync'd records
# to files on ext4; each kill comes at a random moment after the writer starts, and the next boot
# runs e2fsck and checks that every acknowledged record is there (N kills: N + 1 boots per
# configuration). Prints, per kill, the delay and how many records were acknowledged, and the
# test's verdict; a failure names its seed (replay with SEED=...).
# Usage: bench/crash.sh [N]    (default 10)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-10}"
cd "$ROOT"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
seed=()
if [[ -n "${SEED:-}" ]]; then
    seed=(-Djvisor.test.crashSeed="$SEED")
fi
mvn -B -ntp verify -Dit.test=CrashConsistencyTest -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
    -Dfailsafe.failIfNoSpecifiedTests=false -Djvisor.test.crashRuns="$N" "${seed[@]}" 2>&1 \
    | grep --line-buffered -E "crash consistency|FAIL|lost|not clean|Tests run:" || true
