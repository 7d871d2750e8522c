#!/usr/bin/env python3
# PCI hot-plug of a virtio disk into the running demo guest, QEMU 7.2 TCG and jvisor tcg in one
# run: QMP blockdev-add + device_add, then the time until the guest sees /dev/vdb (a loop in the
# guest polls every 20 ms and prints when it appears) and reads it; device_del, then the time
# until DEVICE_DELETED. On pc (ACPI PCI hot-plug) and on q35 (a pcie-root-port). Usage:
#   bench/hotplug.py [RUNS]      (needs ./jvisor guest and ./jvisor build; QEMU from Debian's package)
import json, os, re, socket, subprocess, sys, tempfile, time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
GUEST = os.path.join(ROOT, "build", "guest")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
VMMS = [("QEMU 7.2 TCG", ["qemu-system-x86_64", "-accel", "tcg"]), ("jvisor tcg", [os.path.join(ROOT, "jvisor"), "-accel", "tcg"])]


class Guest:
    def __init__(self, vmm, machine, work):
        self.work = work
        for f in ("qmp.sock", "ser.sock"):
            if os.path.exists(os.path.join(work, f)):
                os.unlink(os.path.join(work, f))
        subprocess.run(["truncate", "-s", "16M", os.path.join(work, "d0.img")], check=True)
        with open(os.path.join(work, "d1.img"), "wb") as f:
            f.write(os.urandom(1 << 20))
        ports = ["-device", "pcie-root-port,id=rp0,chassis=1,slot=0", "-device", "pcie-root-port,id=rp1,chassis=2,slot=1"] \
            if machine == "q35" else []
        disk = "virtio-blk-pci,drive=d0" + (",bus=rp0" if machine == "q35" else "")
        cmd = vmm + ["-M", machine, "-m", "256M", "-display", "none", "-kernel", GUEST + "/vmlinuz",
                     "-initrd", GUEST + "/initramfs.cpio.gz", "-append", "console=ttyS0 quiet",
                     "-qmp", "unix:" + work + "/qmp.sock,server=on,wait=off",
                     "-chardev", "socket,id=ser0,path=" + work + "/ser.sock,server=on,wait=off", "-serial", "chardev:ser0",
                     "-drive", "if=none,id=d0,file=" + work + "/d0.img,format=raw"] + ports + ["-device", disk]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     env=dict(os.environ, JVISOR_NO_BUILD="1"))
        while not (os.path.exists(work + "/qmp.sock") and os.path.exists(work + "/ser.sock")):
            time.sleep(0.05)
        self.q = socket.socket(socket.AF_UNIX)
        self.q.connect(work + "/qmp.sock")
        self.qf = self.q.makefile("rw")
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(work + "/ser.sock")
        self.s.settimeout(0.05)
        self.buf = ""
        self.events = []
        self.qf.readline()
        self.qmp("qmp_capabilities")

    def qmp(self, cmd, **args):
        self.qf.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
        self.qf.flush()
        while True:
            r = json.loads(self.qf.readline())
            if "event" in r:
                self.events.append((time.monotonic(), r))
                continue
            if "error" in r:
                raise RuntimeError(cmd + ": " + r["error"]["desc"])
            return r

    def event(self, name, limit=60):
        end = time.monotonic() + limit
        self.q.settimeout(0.05)
        try:
            while time.monotonic() < end:
                for t, e in self.events:
                    if e["event"] == name:
                        return t
                try:
                    line = self.qf.readline()
                except (socket.timeout, OSError):
                    self.qf = self.q.makefile("rw")
                    continue
                if line:
                    self.events.append((time.monotonic(), json.loads(line)))
        finally:
            self.q.settimeout(None)
        raise RuntimeError("no " + name)

    def serial(self, pattern, limit=180):
        end = time.monotonic() + limit
        while time.monotonic() < end:
            m = re.search(pattern, self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return time.monotonic(), m
            try:
                self.buf += self.s.recv(4096).decode(errors="replace")
            except socket.timeout:
                pass
        raise RuntimeError("no %r on the console" % pattern)

    def close(self):
        try:
            self.qmp("quit")
        except Exception:
            pass
        self.proc.wait()


def run(name, vmm, machine):
    with tempfile.TemporaryDirectory() as work:
        g = Guest(vmm, machine, work)
        try:
            g.serial(r"jvisor:/# ")
            g.s.send(b"while [ ! -e /sys/block/vdb ]; do sleep 0.02; done; echo SEEN-$(dd if=/dev/vdb bs=64k 2>/dev/null"
                     b" | md5sum | cut -c1-8)-$((1+1))\n")
            time.sleep(1)
            g.qmp("blockdev-add", **{"driver": "file", "node-name": "f1", "filename": work + "/d1.img"})
            g.qmp("blockdev-add", **{"driver": "raw", "node-name": "r1", "file": "f1"})
            args = {"driver": "virtio-blk-pci", "drive": "r1", "id": "disk1"}
            if machine == "q35":
                args["bus"] = "rp1"
            t0 = time.monotonic()
            g.qmp("device_add", **args)
            t1, m = g.serial(r"SEEN-(\w+)-2")
            want = subprocess.run(["md5sum", work + "/d1.img"], capture_output=True, text=True).stdout[:8]
            assert m.group(1) == want, (m.group(1), want)
            g.serial(r"jvisor:/# ")
            t2 = time.monotonic()
            g.qmp("device_del", id="disk1")
            t3 = g.event("DEVICE_DELETED")
            print(f"{name:14s} {machine:4s} device_add to the disk read in the guest {t1 - t0:5.2f} s, "
                  f"device_del to DEVICE_DELETED {t3 - t2:5.2f} s", flush=True)
        finally:
            g.close()


for rep in range(RUNS):
    for machine in ("pc", "q35"):
        for name, vmm in VMMS:
            run(name, vmm, machine)
