#!/usr/bin/env bash
# A jailer-style start of jvisor, as Firecracker's jailer does for its VMM: a cgroup with CPU and
# memory limits, new mount/IPC/UTS/PID namespaces, an empty chroot, an unprivileged user, and the
# seccomp filter. jvisor opens its kernel, images and sockets first (as root, outside the chroot),
# then -run-with drops root and moves its root, and -sandbox denies what a VMM never needs.
# Run as root. Usage:
#   tools/jail.sh ID CPU_PERCENT MEMORY_MIB [USER] -- JVISOR-OPTIONS...
# e.g. tools/jail.sh vm1 100 768 nobody -- -m 512M -nographic -kernel build/guest/vmlinuz ...
# The memory limit covers the JVM (about 150 MiB) besides the guest RAM. Add --net to unshare's
# options below for a guest without a host network (a TAP device lives in the host's namespace).
set -euo pipefail
[[ $# -ge 4 ]] || { sed -n '2,11p' "$0" >&2; exit 2; }
ID="$1"; CPU="$2"; MEM="$3"; shift 3
JUSER=nobody
if [[ "$1" != "--" ]]; then JUSER="$1"; shift; fi
[[ "$1" == "--" ]] || { echo "jail.sh: expected -- before jvisor's options" >&2; exit 2; }
shift
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
JAIL="/srv/jvisor/$ID/root"
mkdir -p "$JAIL"
chmod 755 "$JAIL"

# cgroup: v2 (unified) or v1 (cpu and memory hierarchies)
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    CG="/sys/fs/cgroup/jvisor-$ID"
    mkdir -p "$CG"
    echo "$((CPU * 1000)) 100000" > "$CG/cpu.max"
    echo "$((MEM << 20))" > "$CG/memory.max"
    echo $$ > "$CG/cgroup.procs"
else
    mkdir -p "/sys/fs/cgroup/cpu/jvisor-$ID" "/sys/fs/cgroup/memory/jvisor-$ID"
    echo 100000 > "/sys/fs/cgroup/cpu/jvisor-$ID/cpu.cfs_period_us"
    echo "$((CPU * 1000))" > "/sys/fs/cgroup/cpu/jvisor-$ID/cpu.cfs_quota_us"
    echo "$((MEM << 20))" > "/sys/fs/cgroup/memory/jvisor-$ID/memory.limit_in_bytes"
    echo $$ > "/sys/fs/cgroup/cpu/jvisor-$ID/cgroup.procs"
    echo $$ > "/sys/fs/cgroup/memory/jvisor-$ID/cgroup.procs"
fi

exec unshare --mount --ipc --uts --pid --fork --mount-proc \
    "$ROOT/jvisor" "$@" -run-with "user=$JUSER,chroot=$JAIL" \
    -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
