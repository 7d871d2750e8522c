#!/usr/bin/env bash
# Crash consistency, many runs (issue 16): CrashConsistencyTest with N SIGKILLs per cache mode
# (writeback and none), each at a random acknowledged record; prints how many flushed writes each
# kill left acknowledged and whether every one was on the image.
# Usage: bench/crash.sh [N]    (default 20)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-20}"
cd "$ROOT"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
mvn -B -ntp -q verify -Dit.test=CrashConsistencyTest -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
    -Dfailsafe.failIfNoSpecifiedTests=false -Djvisor.test.crashRuns="$N" 2>&1 | grep -E "crash consistency|FAIL|lost" || true
grep -h "Tests run" target/failsafe-reports/org.jvisor.machine.CrashConsistencyTest.txt
