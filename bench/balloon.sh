#!/bin/bash
# bench/balloon.sh: demo guest 256 MiB with virtio-balloon-pci, idle at its prompt; QMP balloon to 100 MiB;
# resident size of the guest-RAM mapping (smaps) before and 25 s after, on QEMU 7.2 TCG then jvisor tcg
# Needs ./jvisor build and ./jvisor guest (the demo guest loads virtio_balloon when the device is there), socat.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; G="$ROOT/build/guest"
ram() { python3 - "$1" <<'PY'
import sys,re
cur=None
for l in open(f'/proc/{sys.argv[1]}/smaps'):
    if re.match(r'^[0-9a-f]+-[0-9a-f]+ ',l): cur={}
    else:
        k,_,v=l.partition(':')
        if k=='Size': cur['s']=int(v.split()[0])
        if k=='Rss' and 262144<=cur['s']<=266240: print(cur['Rss'] if 'Rss' in cur else int(v.split()[0]))
PY
}
for vmm in qemu jvisor; do
  rm -f /tmp/bq.sock
  if [ $vmm = qemu ]; then
    (sleep 120 | qemu-system-x86_64 -accel tcg -m 256M -nographic -no-reboot -kernel $G/vmlinuz -initrd $G/initramfs.cpio.gz -append "console=ttyS0 quiet" -device virtio-balloon-pci,id=balloon0 -qmp unix:/tmp/bq.sock,server=on,wait=off > /tmp/bq-$vmm.log 2>&1 &)
  else
    (cd "$ROOT"; sleep 120 | JVISOR_NO_BUILD=1 ./jvisor -accel tcg -m 256M -nographic -no-reboot -kernel $G/vmlinuz -initrd $G/initramfs.cpio.gz -append "console=ttyS0 quiet" -device virtio-balloon-pci,id=balloon0 -qmp unix:/tmp/bq.sock,server=on,wait=off > /tmp/bq-$vmm.log 2>&1 &)
  fi
  for i in $(seq 1 90); do grep -aq "jvisor:/#" /tmp/bq-$vmm.log && break; sleep 1; done
  sleep 3; P=$(pgrep -f "bq.sock" | head -1)
  b=$(ram $P)
  r=$( (echo '{"execute":"qmp_capabilities"}'; sleep 0.3; echo '{"execute":"balloon","arguments":{"value":104857600}}'; sleep 25; echo '{"execute":"query-balloon"}'; sleep 0.3) | socat - unix-connect:/tmp/bq.sock | grep -o '"return": {"actual": [0-9]*' | tail -1)
  a=$(ram $P)
  echo "$vmm: guest-RAM resident before ${b} kB, 25 s after balloon 100 MiB ${a} kB ($r)"
  kill $P; sleep 2
done
