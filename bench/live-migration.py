#!/usr/bin/env python3
# Live migration side by side (issue 10): the demo guest (512 MiB; MEM=256M to change) runs a loop that dirties 16 MiB
# of page cache over and over; QMP `migrate tcp:` sends it to a second VMM of the same kind started
# with -incoming tcp:, and query-migrate gives total time, downtime, RAM sent and passes over RAM
# (dirty-sync-count). QEMU 7.2 TCG and jvisor tcg, same guest, same options, interleaved runs.
# Then the destination's console must answer. Needs ./jvisor build and build/guest (./jvisor demo).
# Usage: [MEM=512M] [DOWNTIME=MS] bench/live-migration.py [RUNS]   (DOWNTIME: migrate-set-parameters
# downtime-limit before the migration; QEMU's default is 300 ms; ONLY=jvisor or ONLY=qemu: one VMM;
# TRACE=1: jvisor runs with -trace migration and its phase lines are printed under its row)
import json, os, socket, subprocess, sys, tempfile, threading, time

from qmp import Qmp

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
GUEST = os.path.join(ROOT, "build", "guest")
READY = b"jvisor-guest: ready"
LOOP = (b"i=0; while true; do i=$((i+1)); dd if=/dev/zero of=/tmp/f bs=1M count=16 2>/dev/null; "
        b"echo $i > /tmp/n; done &\n")


class Vmm:
    def __init__(self, cmd):
        self.out = b""
        self.err = []
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump_err(self):
        for line in self.p.stderr:
            self.err.append(line.decode(errors="replace").rstrip())

    def _pump(self):
        while True:
            b = self.p.stdout.read1(4096)
            if not b:
                return
            self.out += b

    def expect(self, text, timeout=300):
        end = time.monotonic() + timeout
        while text not in self.out:
            if time.monotonic() > end or self.p.poll() is not None:
                raise RuntimeError("no %r; output:\n%s" % (text, self.out[-2000:].decode(errors="replace")))
            time.sleep(0.02)
        self.out = self.out[self.out.index(text) + len(text):]

    def send(self, b):
        self.p.stdin.write(b)
        self.p.stdin.flush()

    def stop(self):
        self.p.kill()
        self.p.wait()


def args(kind, qmp, incoming=None):
    common = ["-accel", "tcg", "-m", os.environ.get("MEM", "512M"), "-nographic", "-kernel", GUEST + "/vmlinuz",
              "-initrd", GUEST + "/initramfs.cpio.gz", "-append", "console=ttyS0",
              "-qmp", "unix:%s,server=on,wait=off" % qmp]
    extra = ["-incoming", incoming] if incoming else []
    if kind == "QEMU 7.2 TCG":
        return ["qemu-system-x86_64"] + common + extra
    trace = ["-trace", "migration"] if os.environ.get("TRACE") else []
    return [os.path.join(ROOT, "jvisor")] + common + extra + trace


def run(kind, d):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = "tcp:127.0.0.1:%d" % port
    src = Vmm(args(kind, d + "/src.sock"))
    dst = Vmm(args(kind, d + "/dst.sock", uri))
    try:
        src.expect(READY)
        src.send(LOOP)
        time.sleep(3)
        q = Qmp(d + "/src.sock")
        if os.environ.get("DOWNTIME"):   # ms; QEMU's default downtime-limit is 300
            r = q.cmd("migrate-set-parameters", **{"downtime-limit": int(os.environ["DOWNTIME"])})
            if "error" in r:
                raise RuntimeError(r)
        t0 = time.monotonic()
        r = q.cmd("migrate", uri=uri)
        if "error" in r:
            raise RuntimeError(r)
        while True:
            info = q.cmd("query-migrate")["return"]
            if info.get("status") in ("completed", "failed"):
                break
            time.sleep(0.05)
        wall = time.monotonic() - t0
        if info["status"] != "completed":
            raise RuntimeError(info)
        dst.send(b"echo al''ive-$((6*7))\n")
        dst.expect(b"alive-42", 120)
        ram = info["ram"]
        print("%-13s total %5d ms  downtime %4d ms  RAM sent %5.1f MiB  passes %2d  (wall %.2f s)" % (
            kind, info["total-time"], info["downtime"], ram["transferred"] / 2**20,
            ram.get("dirty-sync-count", 0), wall), flush=True)
        if os.environ.get("TRACE"):
            time.sleep(0.5)     # the destination's line comes with its resume
            moments = {}
            for line in src.err + dst.err:
                if "migration (" in line:
                    print("    " + line, flush=True)
                    for name in ("stop", "resume"):
                        at = line.find(" %s at " % name)
                        if at >= 0:
                            moments[name] = float(line[at + len(name) + 5:].split(",")[0])
            if len(moments) == 2:   # one host, one clock: the guest's whole pause
                print("    guest pause %.1f ms (source's stop to destination's resume)"
                      % ((moments["resume"] - moments["stop"]) * 1000), flush=True)
    finally:
        src.stop()
        dst.stop()


env_runs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
os.environ["JVISOR_NO_BUILD"] = "1"
failed = 0
for _ in range(env_runs):
    for kind in ("QEMU 7.2 TCG", "jvisor tcg"):
        if os.environ.get("ONLY", kind.split()[0].lower()) != kind.split()[0].lower():
            continue
        with tempfile.TemporaryDirectory() as d:
            try:
                run(kind, d)
            except RuntimeError as e:   # a run that fails is reported, by VMM, and the others go on
                failed += 1
                print("%-13s FAILED: %s" % (kind, str(e)[-1500:]), flush=True)
sys.exit(1 if failed else 0)
