#!/usr/bin/env bash
# VMM start to the guest's first output byte for the second and later machines of one jvisor
# process (issue 13's start-up goal, for the VMs that do not pay the JVM's own start; the first VM
# of a fresh process is bench/first-byte.py's figure). The guest is hello.elf, which writes COM1
# within microseconds of its first instruction. Two ways in:
#   - the Java API (bench/WarmStart.java): create, start, first byte on the serial stream, quit;
#   - jvisor -control (server mode): "vm-create" on the control socket to the first byte in the
#     machine's -serial file:PATH (polled every 0.2 ms), then vm-destroy.
# Usage: bench/warm-start.sh [N]    (default 10 machines each way)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-10}"
"$ROOT/jvisor" build
make -s -C "$ROOT/guests" OUT="$ROOT/target/guests" >/dev/null
export JVISOR_NO_BUILD=1
HELLO="$ROOT/target/guests/hello.elf"
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"

echo "Java API, one JVM (VMM start = VirtualMachine.create):"
"$JAVA" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -cp "$ROOT/target/jvisor.jar" \
    "$ROOT/bench/WarmStart.java" "$HELLO" "$N"

echo "jvisor -control (VMM start = the vm-create request):"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$ROOT/jvisor" -control "unix:$dir/control.sock,server=on,wait=off" </dev/null >"$dir/server.log" 2>&1 &
server=$!
PYTHONPATH="$ROOT/bench" python3 - "$dir" "$HELLO" "$N" <<'PY'
import os, sys, time
from qmp import Qmp
d, hello, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
control = Qmp(os.path.join(d, "control.sock"))
for machine in ("pc", "microvm"):
    ms = []
    for i in range(n):
        out = os.path.join(d, f"serial-{machine}-{i}")
        open(out, "w").close()
        t0 = time.monotonic()
        r = control.cmd("vm-create", name=f"h{machine}{i}", args=[
            "-M", machine, "-accel", "tcg", "-display", "none", "-m", "128M", "-serial", "file:" + out, "-kernel", hello])
        if "error" in r:
            sys.exit(f"vm-create: {r}")
        while os.path.getsize(out) == 0:
            time.sleep(0.0002)
        ms.append((time.monotonic() - t0) * 1000)
        control.cmd("vm-destroy", name=f"h{machine}{i}")
    later = sorted(ms[1:])
    print(f"{machine:8s} first VM {ms[0]:6.1f} ms; VMs 2..{n}: " + " ".join(f"{x:.1f}" for x in ms[1:])
          + f"  (median {later[len(later) // 2]:.1f} ms)")
control.cmd("quit")
PY
wait "$server" || { cat "$dir/server.log" >&2; exit 1; }
