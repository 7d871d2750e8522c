#!/usr/bin/env bash
# Snapshot of the demo guest (Debian's cloud kernel + busybox initramfs, -m 512M, a shell loop
# printing a counter): the file's size, the save and the restore times, on jvisor tcg (through the
# Java API: pause, saveSnapshot, VirtualMachine.restore, resume) and on QEMU 7.2 TCG in the same
# run (QMP stop, migrate "exec:cat > FILE", then a second QEMU with -incoming "exec:cat FILE").
# QEMU's numbers: its own query-migrate total-time for the save, and for the restore the wall time
# from its start until query-status leaves "inmigrate" (QEMU start-up included).
# Usage: bench/snapshot.sh [MIB] [REPS]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/out"
MIB="${1:-512}"
REPS="${2:-1}"
JAVA_BIN=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
mkdir -p "$OUT"
"$ROOT/jvisor" guest >&2
G="$ROOT/build/guest"
(cd "$ROOT" && mvn -B -ntp -q test-compile) >&2

for r in $(seq "$REPS"); do
    echo -n "jvisor tcg: "
    "$JAVA_BIN" --enable-native-access=ALL-UNNAMED -cp "$ROOT/target/classes:$ROOT/target/test-classes" \
        org.jvisor.api.SnapshotBench "$G/vmlinuz" "$G/initramfs.cpio.gz" "$MIB" "$OUT/snapshot.jvsnap" 2>/dev/null
done

command -v qemu-system-x86_64 >/dev/null || { echo "snapshot.sh: no qemu-system-x86_64 (apt-get install qemu-system-x86); QEMU skipped"; exit 0; }
for r in $(seq "$REPS"); do
PYTHONPATH="$ROOT/bench" python3 - "$G" "$MIB" "$OUT" <<'PY'
import os, subprocess, sys, time
from qmp import Qmp
g, mib, out = sys.argv[1], sys.argv[2], sys.argv[3]
qsock, f, serial = out + "/qmp.sock", out + "/snapshot.qemu", out + "/qemu-serial.log"
common = ["qemu-system-x86_64", "-accel", "tcg", "-m", mib + "M", "-display", "none", "-kernel", g + "/vmlinuz",
          "-initrd", g + "/initramfs.cpio.gz", "-append", "console=ttyS0 quiet"]

def until(path, text):
    while not (os.path.exists(path) and text in open(path, errors="replace").read()):
        time.sleep(0.05)

for p in (qsock, f, serial):
    if os.path.exists(p): os.remove(p)
src = subprocess.Popen(common + ["-serial", "file:" + serial,
                                 "-qmp", "unix:" + qsock + ",server=on,wait=off"], stdin=subprocess.DEVNULL)
cmd = Qmp(qsock).cmd
until(serial, "jvisor-guest: ready")
# no console input through a file serial: the counter is the kernel's, so only the save/restore is timed
cmd("stop")
cmd("migrate", uri="exec:cat > " + f)
while True:
    m = cmd("query-migrate")["return"]
    if m.get("status") in ("completed", "failed"): break
    time.sleep(0.01)
cmd("quit"); src.wait()
save_ms = m.get("total-time")
if os.path.exists(qsock): os.remove(qsock)
t0 = time.time()
dst = subprocess.Popen(common + ["-serial", "null", "-incoming", "exec:cat " + f,
                                 "-qmp", "unix:" + qsock + ",server=on,wait=off"], stdin=subprocess.DEVNULL)
cmd = Qmp(qsock).cmd
while cmd("query-status")["return"]["status"] == "inmigrate":
    time.sleep(0.005)
restore_ms = (time.time() - t0) * 1000
state = cmd("query-status")["return"]["status"]
cmd("quit"); dst.wait()
print("qemu 7.2 tcg: ram_mib=%s file_bytes=%d save_ms=%s restore_ms=%.1f (incl. start-up) state_after_incoming=%s"
      % (mib, os.path.getsize(f), save_ms, restore_ms, state))
PY
done
