#!/bin/sh
# Long differential fuzz of the tcg CPU against the host CPU (src/test/java/org/jvisor/tcg/diff).
#
#   bench/tcg-fuzz.sh [cases-per-family] [seed] [test-filter] [extra mvn -D options...]
#
# cases-per-family defaults to 1000000, seed to the current time (printed, and named in every
# failure together with the case index), test-filter to every differential family, e.g.
# 'DiffTestShift' or 'DiffTestAlu#group1'. Extra options, e.g.:
#   -Djvisor.fuzz.knownBugs=true   include forms of known, unfixed tcg bugs (KnownBugs.java)
#   -Djvisor.fuzz.reports=20       examples shown per kind of mismatch (default 2)
#   -Djvisor.fuzz.freshCpu=true    a new TcgCpu per case instead of one with invalidateCode
# A failing case can be rerun alone with
#   mvn -B -ntp test -Dtest=<Class> -Djvisor.fuzz.seed=<seed> -Djvisor.fuzz.first=<case> -Djvisor.fuzz.cases=1
set -eu
cd "$(dirname "$0")/.."
CASES=${1:-1000000}
SEED=${2:-$(date +%s)}
FILTER=${3:-org.jvisor.tcg.diff.**}
[ $# -gt 3 ] && shift 3 || set --
echo "tcg-fuzz: $CASES cases per family, seed $SEED, tests $FILTER $*"
exec mvn -B -ntp test -Dtest="$FILTER" -Dsurefire.failIfNoSpecifiedTests=false \
    -Djvisor.fuzz.cases="$CASES" -Djvisor.fuzz.seed="$SEED" "$@"
