#!/usr/bin/env bash
# Regenerates the committed seed corpus of fuzz targets: fuzzes each target SECONDS (default 25)
# with bench/fuzz.sh's setup, then keeps the fewest inputs that cover every edge the run reached
# (libFuzzer's -merge=1 control file gives each input's edges; a greedy set cover picks among
# them, smallest first on ties) and writes them as cov-<sha1> into the target's regression
# directory, src/test/resources/<package>/<Class>Inputs/<method>/, replacing the previous cov-*
# files. Inputs named otherwise there (findings, hand-made regression inputs) are kept as they are.
# `mvn verify` replays the directory, so every target runs its reached paths in CI, not only
# Jazzer's single empty input. Edges, not libFuzzer's features (hit-count buckets, comparisons):
# a merge on features keeps nearly every input the run wrote.
# Usage: bench/fuzz-seeds.sh [SECONDS] [Class#method ...]   (default: every target of fuzz.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_EACH="${1:-25}"
shift || true
JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME
cd "$ROOT"
if (( $# )); then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(sed -n '/^TARGETS=(/,/^)/p' bench/fuzz.sh | grep -oE 'org\.jvisor\.[A-Za-z0-9_.]+#[A-Za-z0-9_]+')
fi
mkdir -p bench/out
mvn -B -ntp -q test-compile dependency:build-classpath -Dmdep.outputFile=target/fuzz-classpath.txt \
    -Dmdep.includeScope=test >&2
# a copy of the classes: a build while this runs must not change them under the fuzzer
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r target/classes target/test-classes "$work/"
CP="$work/test-classes:$work/classes:$(cat target/fuzz-classpath.txt)"
JVM=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -XX:+EnableDynamicAgentLoading -Xss8m -Xmx1g
    -Djazzer.hooks=true)

printf '%-58s %10s %6s %6s %8s\n' target executions edges seeds bytes
for t in "${TARGETS[@]}"; do
    class="${t%%#*}"
    method="${t##*#}"
    pkgdir="$(dirname "${class//.//}")"
    inputs="src/test/resources/$pkgdir/${class##*.}Inputs/$method"
    corpus=".cifuzz-corpus/$class/$method"
    log="bench/out/seeds-${class##*.}-$method.log"
    mkdir -p "$inputs"
    # fuzz from scratch: last run's corpus would carry inputs of code that has changed since
    rm -rf "$corpus"
    JAZZER_FUZZ=1 JAZZER_MAX_DURATION="${SECONDS_EACH}s" "${JVM[@]}" -cp "$CP" org.jvisor.testing.FuzzRunner "$t" \
        >"$log" 2>&1 || { echo "$t: fuzzing failed (a finding?), see $log" >&2; continue; }
    runs=$( (grep -o 'Done [0-9]* runs' "$log" || true) | tail -1 | awk '{print $2}')
    # the merge runs every input once more, recording its edges; its output directory is thrown away
    rm -rf "$work/out" "$work/control"
    mkdir "$work/out"
    "${JVM[@]}" -cp "$CP" com.code_intelligence.jazzer.Jazzer --target_class="$class" --target_method="$method" \
        '--instrumentation_includes=org.jvisor.**' -merge=1 -merge_control_file="$work/control" \
        "$work/out" "$corpus" >>"$log" 2>&1
    # control file: file count, initial-corpus count, the paths, then per input "COV <index> <edge>..."
    python3 - "$work/control" "$inputs" >"$work/picked" <<'EOF'
import sys
lines = open(sys.argv[1]).read().split('\n')
n = int(lines[0])
paths = lines[2:2 + n]
cov = {}
for line in lines[2 + n:]:
    parts = line.split()
    if parts and parts[0] == 'COV':
        cov[int(parts[1])] = set(parts[2:])
import os
size = {i: os.path.getsize(paths[i]) for i in cov}
left = set().union(*cov.values()) if cov else set()
edges = len(left)
picked = []
while left:
    best = max(cov, key=lambda i: (len(cov[i] & left), -size[i]))
    if not cov[best] & left:
        break
    picked.append(paths[best])
    left -= cov[best]
print(edges)
for p in picked:
    print(p)
EOF
    edges=$(head -1 "$work/picked")
    rm -f "$inputs"/cov-*
    tail -n +2 "$work/picked" | while read -r p; do
        # an input already in the directory stays under its own name
        case "$p" in "$ROOT/$inputs"/*|"$inputs"/*) continue ;; esac
        cp "$p" "$inputs/cov-$(sha1sum "$p" | cut -c1-16)"
    done
    seeds=$(find "$inputs" -name 'cov-*' | wc -l)
    bytes=$(find "$inputs" -name 'cov-*' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    printf '%-58s %10s %6s %6s %8s\n' "$t" "${runs:--}" "$edges" "$seeds" "$bytes"
done
