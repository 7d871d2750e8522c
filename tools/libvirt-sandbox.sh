#!/bin/sh
# A private libvirtd (Debian 12's libvirt 9.0) for trying jvisor as libvirt's QEMU without touching
# the host's libvirt: run as root, it enters a mount namespace of its own where libvirt's fixed
# directories (/etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt)
# are directories under DIR, and /etc/passwd and /etc/group gain the libvirt-qemu user and the kvm and libvirt-qemu groups
# the QEMU driver insists on. The daemon runs in the foreground until killed; talk to it with
#   virsh -c 'qemu:///system?socket=DIR/run/libvirt-sock' ...
# qemu.conf is the minimum a host without cgroups, virtlogd or a security driver needs
# (qmp-libvirt-firecracker.md, "Running Debian 12's libvirt"). Needs: libvirt-daemon,
# libvirt-daemon-driver-qemu, libvirt-clients, util-linux (unshare).
# Usage: tools/libvirt-sandbox.sh DIR
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "$0: libvirt's system daemon needs root" >&2; exit 1; }
DIR="$(mkdir -p "$1" && cd "$1" && pwd)"
mkdir -p "$DIR/etc" "$DIR/run" "$DIR/lib" "$DIR/log" "$DIR/cache"
cat > "$DIR/etc/qemu.conf" <<'CONF'
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
seccomp_sandbox = 0
stdio_handler = "file"
CONF
# QMP traffic and the command lines in libvirtd.log (qemu_monitor logs every message it sends and receives)
cat > "$DIR/etc/libvirtd.conf" <<'CONF'
log_filters = "1:qemu.qemu_monitor 1:qemu.qemu_process 1:qemu.qemu_capabilities 3:*"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
CONF
cp /etc/passwd "$DIR/passwd"
cp /etc/group "$DIR/group"
getent group kvm >/dev/null || echo "kvm:x:990:" >> "$DIR/group"
getent group libvirt-qemu >/dev/null || echo "libvirt-qemu:x:991:" >> "$DIR/group"
getent passwd libvirt-qemu >/dev/null || echo "libvirt-qemu:x:990:990::/var/lib/libvirt:/usr/sbin/nologin" >> "$DIR/passwd"
exec unshare --mount --propagation private sh -c '
    D="$1"
    for m in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt cache:/var/cache/libvirt; do
        mkdir -p "${m#*:}" && mount --bind "$D/${m%%:*}" "${m#*:}"
    done
    mount --bind "$D/passwd" /etc/passwd
    mount --bind "$D/group" /etc/group
    exec libvirtd --pid-file /run/libvirt/libvirtd.pid   # not /run/libvirtd.pid: shared with other instances
' sh "$DIR"
