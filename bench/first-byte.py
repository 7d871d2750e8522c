#!/usr/bin/env python3
# VMM start to the guest's first output byte (issue 13: "VMM start to first guest instruction"):
# target/guests/hello.elf on jvisor and its Multiboot twin hello.mb.elf on QEMU 7.2 TCG, same
# options, three interleaved runs; the guest prints within microseconds of its first instruction.
# Needs `make -C guests OUT=../target/guests qemu` for hello.mb.elf, and ./jvisor build.
import subprocess, time, sys, os
def first(cmd):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    b = p.stdout.read(1)
    t1 = time.monotonic()
    p.stdout.read(); p.wait()
    t2 = time.monotonic()
    return t1 - t0, t2 - t0
G = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "guests")
env = dict(os.environ, JVISOR_NO_BUILD="1")
for rep in range(3):
    for name, cmd in [("QEMU 7.2 TCG", ["qemu-system-x86_64", "-accel", "tcg", "-display", "none", "-serial", "stdio", "-m", "128M",
                                         "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", G + "/hello.mb.elf"]),
                      ("jvisor tcg", [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jvisor"), "-accel", "tcg", "-display", "none", "-serial", "stdio", "-m", "128M",
                                      "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", G + "/hello.elf"])]:
        a, b = first(cmd)
        print(f"{name:14s} first guest byte {a*1000:6.1f} ms, exit {b*1000:6.1f} ms")
