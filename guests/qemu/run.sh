#!/bin/sh
# Runs one test guest's QEMU variant (built by `make -C guests qemu`) under QEMU TCG and prints
# its exit status (33 = pass, 35 = fail, 124 = timeout, 0 = QEMU quit on a triple fault).
# Usage: guests/qemu/run.sh OUT_DIR/NAME.mb.elf [timeout-seconds]
# QEMU_CPU selects the CPU model (default qemu64; "max" adds 1 GiB pages among others).
elf=$1
t=${2:-30}
# Guests that must survive a reset run without -no-reboot (QEMU reloads the Multiboot image on
# reset and keeps RAM, as jvisor does).
reboot=-no-reboot
devices=
case "$(basename "$elf")" in
    triplefault.mb.elf) reboot= ;;
    virtiorng.mb.elf) devices="-device virtio-rng-pci" ;;
    # a scratch image the guest writes and reads back (removed when QEMU ends)
    virtioblk.mb.elf) img=$(mktemp) && truncate -s 16M "$img" && trap 'rm -f "$img"' EXIT
        devices="-drive file=$img,format=raw,if=none,id=d0 -device virtio-blk-pci,drive=d0" ;;
    # VTD_DEVICE_IOTLB=1: device-iotlb=on and ats=on (QEMU 7.2 shows no ATS capability on bus 0)
    vtd.mb.elf) if [ -n "$VTD_DEVICE_IOTLB" ]; then dt=",device-iotlb=on" ats=",ats=on"; else dt= ats=; fi
        devices="-M q35 -device intel-iommu$dt -device virtio-rng-pci,iommu_platform=on,disable-legacy=on$ats" ;;
esac
timeout "$t" qemu-system-x86_64 -accel tcg -cpu "${QEMU_CPU:-qemu64}" -nographic $reboot -m 256M \
    -monitor none -serial stdio -nic none -device isa-debug-exit,iobase=0xf4,iosize=0x04 $devices \
    -kernel "$elf" </dev/null
status=$?
echo "[exit status $status]"
exit $status
