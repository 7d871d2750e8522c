package org.jvisor.cli;

/** The --help text. */
final class Help {
    private Help() {
    }

    static final String TEXT = """
        usage: jvisor [options] -kernel FILE
               jvisor [options] -drive file=DISK,format=raw,if=virtio   (boots the disk through SeaBIOS)

        jvisor is a virtual machine monitor for x86-64 guests, written in Java.
        Options follow QEMU's spelling.

        Machine:
          -accel kvm|tcg|auto   CPU engine: kvm (hardware, /dev/kvm), tcg (software) or
                                auto (default: kvm on bare metal, tcg otherwise)
          -accel tcg,jit=on|off,jit-threshold=N,jit-burst=B,jit-steady=S
                                tcg translates guest code that the interpreter entered N
                                times (default 20000; 0: every block at once), user code
                                entered B times within 2^20 instructions (default 1000; 0:
                                never), or kernel code entered S times at a steady rate (at
                                most 32 per 2^20 instructions; default 4096; 0: never), into
                                JVM bytecode; jit=off interprets everything
          -enable-kvm           same as -accel kvm
          -m SIZE               guest RAM, e.g. 512M or 2G (default 128M; plain numbers are MiB)
          -smp N                number of vCPUs (default 1)
          -object memory-backend-memfd,id=ID,size=SIZE[,share=on|off][,seal=on|off]
          -object memory-backend-file,id=ID,size=SIZE,mem-path=PATH[,share=on|off]
          -machine memory-backend=ID   (or -numa node,memdev=ID)
                                guest RAM from a memfd (share=on by default) or a file (a
                                directory: an unlinked file in it; share=off by default), which
                                vhost-user backends map; SIZE must equal -m (no -m: taken from it)
          -kernel FILE          the guest to boot: a Linux bzImage or vmlinux, or an ELF64 test guest
          -initrd FILE          initial ramdisk for a Linux kernel
          -append CMDLINE       Linux kernel command line
          -bios FILE            firmware for a machine without -kernel (default: SeaBIOS from
                                Debian's seabios package, /usr/share/seabios/bios-256k.bin, or
                                $JVISOR_BIOS); it boots the disks as a PC does (tcg runs it;
                                -kernel skips it); a file with no x86 jump at its reset vector
                                is refused
          -boot [order=]DRIVES[,menu=on|off][,splash-time=MS][,reboot-timeout=MS]
                                firmware boot order (c disk, d CD-ROM, n network; default cad),
                                its boot menu prompt (ESC on the console), how long the prompt
                                waits, and when to reboot after no disk booted (-1: never)
          -machine pc|pc-i440fx-7.2|q35|pc-q35-7.2|microvm|none[,kernel-decompress=host|guest]
                   [,accel=kvm|tcg|kvm:tcg][,usb=off][,dump-guest-core=on|off][,memory-backend=ID]
                   [,mem-merge=on|off][,rng-seed=on|off][,hpet=off][,smm=off][,vmport=off]
                                pc (default; pc-i440fx-7.2 is its versioned name): PCI host
                                with ECAM, virtio-X-pci devices; microvm: no PCI,
                                virtio-X-device devices on virtio-mmio; none: no guest, only
                                the monitors (what libvirt probes). q35 (pc-q35-7.2): the pc
                                machine with the Q35 host bridge's identity (8086:29c0), the
                                machine for -device intel-iommu; unlike QEMU's q35 its ICH9
                                functions at 00:1f (the LPC bridge at 1f.0, the AHCI at 1f.2;
                                no SMBus) are there only when IDE drives are given (-hda,
                                -cdrom) or firmware boots it; with -kernel its ECAM is pc's at
                                0xE0000000, through SeaBIOS where SeaBIOS puts it (0xB0000000);
                                its root bus is pcie.0 (pci.0 also accepted), its devices
                                conventional PCI functions (but the ats=on ones) unless behind
                                a pcie-root-port.
                                hpet, smm, vmport: parts jvisor's machines do not have; off
                                (and auto) accepted, as libvirt writes them; on refused.
                                kernel-decompress: where a bzImage is decompressed (default
                                host: faster boot).
                                memory-backend: guest RAM is the -object memory-backend-* ID
                                mem-merge (default on, as QEMU's): the host's KSM may merge
                                pages of guest RAM with identical ones of other guests (it
                                works where /sys/kernel/mm/ksm/run is 1, on RAM not shared
                                with another process); off: never
                                rng-seed (default on): a -kernel Linux gets a fresh seed for
                                its random number generator at every boot (setup_data
                                SETUP_RNG_SEED, which QEMU 7.1 introduced and 7.2 passes no
                                more), so its generator is ready at once; off: none
          -no-reboot            exit (status 0) instead of resetting on a guest reset or triple fault
          -no-hpet              as -machine hpet=off (QEMU 7.2's spelling; there is no HPET)
          -no-shutdown          on a guest power-off, stop the vCPUs (status shutdown) instead of
                                exiting; a reset then boots the machine again
          -S                    start paused: no vCPU runs until the machine is continued
                                (status prelaunch)
          -s                    as -gdb tcp::1234
          -gdb tcp:[HOST]:PORT | unix:PATH[,server=on] | none
                                QEMU's gdbstub: gdb -ex 'target remote :1234' stops the machine,
                                sets breakpoints, steps, reads registers and memory (tcg only)
          -sandbox on|off[,obsolete=allow|deny][,elevateprivileges=allow|deny|children]
                   [,spawn=allow|deny][,resourcecontrol=allow|deny]
                                a seccomp filter on the whole process once the machine is built,
                                with QEMU's deny lists: a denied call kills jvisor (resourcecontrol:
                                EPERM); threads may still be created, processes not (spawn=deny)
          -run-with user=USER[,chroot=DIR]   (QEMU 7.2: -runas USER, -chroot DIR)
                                once the machine is built, move the root to DIR and become USER
                                (a name or uid:gid) for good
          -incoming file:PATH   restore the snapshot PATH (saved by jvisor's migrate to file:)
                                instead of booting: the same -m, -smp, -M, devices, drives and
                                kernel; disk images must be unchanged since the save. Runs on
                                if it ran when saved; with -S it stays paused
          -incoming tcp:HOST:PORT | unix:PATH | exec:CMD | defer
                                receive the machine from another jvisor's migrate (listen
                                there; a command's output; or wait for migrate-incoming)

        Devices and I/O:
          -serial stdio|mon:stdio|file:PATH|chardev:ID|none   where COM1 goes (default stdio;
                                mon:stdio shares it with the human monitor, Ctrl-A c switching)
          -nographic            no display; serial and human monitor share stdio (mon:stdio)
                                unless -monitor, -qmp or -mon is given; Ctrl-A c switches
          -display none         no display
          -device isa-debug-exit[,iobase=0xf4][,iosize=0x04]
                                a guest write of V to the port ends jvisor with status (V<<1)|1
          -device virtio-rng-pci  a virtio entropy device on the PCI bus (the guest's /dev/hwrng)
                                [,ioeventfd=off]: on kvm, queue notifications exit to jvisor
                                instead of signalling an ioeventfd in the kernel
                                [,rng=ID]: its bytes from -object rng-random,id=ID[,filename=F]
                                (default F /dev/urandom) or rng-builtin,id=ID (the default)
                                [,max-bytes=N][,period=MS]: at most N bytes per MS milliseconds
          -device virtio-balloon-pci[,deflate-on-oom=on]   the memory balloon (virtio-balloon-device
                                on microvm): QMP balloon sets how much RAM the guest keeps, the
                                pages its driver gives up go back to the host; query-balloon and
                                BALLOON_CHANGE (at most one a second) say what it holds
          -drive file=IMG[,format=raw|qcow2],if=virtio[,readonly=on][,cache=none|writeback][,snapshot=on]
                                a disk image as a virtio-blk-pci disk (/dev/vda, ...): raw or
                                qcow2 (v2/v3, backing chains, compressed clusters read); without
                                format= the format is probed as QEMU does (a probed raw image may
                                not get a format header written into its first sector);
                                [,discard=ignore|unmap]: the guest's discards keep the space
                                (ignore, QEMU's default) or give it back (unmap; also on -blockdev)
          -hda IMG .. -hdd IMG  a disk on the IDE controller (PIIX3 IDE at 00:01.1; hda = primary
                                master, IRQ 14; hdc = secondary master, IRQ 15): Linux's sda...
                                On -M q35: the ICH9 AHCI at 00:1f.2, hda..hdd on ports 0-3
          -cdrom IMG            a read-only ATAPI CD-ROM at IDE index 2 (the guest's /dev/sr0)
          -drive if=ide,media=cdrom[,index=N][,id=D]
                                an empty CD-ROM drive (so is -device ide-cd without drive=); QMP
                                blockdev-change-medium/eject (HMP change/eject) change its
                                medium while the guest runs
          -drive file=IMG,if=ide[,index=0-3][,media=disk|cdrom][,format=..][,readonly=on]
                                the same through -drive (index: the first free one when omitted;
                                0-5, the AHCI port, on q35)
          -device ide-hd|ide-cd,drive=D[,bus=ide.0|ide.1][,unit=0|1]
                                an IDE disk or CD-ROM on a -drive if=none or -blockdev node D
                                (as libvirt gives them; on q35 bus=ide.0-ide.5, unit 0)
          -device ahci,id=ID[,addr=SLOT]  with  -device ide-hd|ide-cd,drive=D,bus=ID.0-5
                                a further AHCI controller (QEMU's ich9-ahci) on any PC machine,
                                with a disk or CD-ROM on each of its six ports
          -snapshot             writes to every drive go to a temporary qcow2 overlay, dropped at
                                exit; the images themselves are not modified
          -drive id=D,file=IMG,format=qcow2,if=none  with  -device virtio-blk-pci,drive=D
          -blockdev driver=file,node-name=F,filename=IMG[,read-only=on][,cache.direct=on]
          -blockdev driver=raw|qcow2,node-name=D,file=F   with  -device virtio-blk-pci,drive=D
                                the same disk as a block node pair (as libvirt gives it)
          -device, -object, -blockdev '{"driver": ...}'   QEMU's JSON spelling of each
          -device isa-serial,chardev=ID   COM1 on a chardev (as -serial chardev:ID)
          -object memory-backend-ram,id=ID,size=SIZE[,merge=on|off] | secret,id=ID,file=F|data=D
                                merge: as -machine mem-merge, for RAM from this backend
          -device virtio-rng-device, -device virtio-blk-device,drive=D   the same on microvm
          -device virtio-blk-pci,drive=D,ioeventfd=off
                                on kvm: each queue notification is an MMIO exit served on the
                                vCPU thread (default on: a KVM ioeventfd, served by the disk's thread)
          -object iothread,id=IO[,poll-max-ns=N][,poll-grow=G][,poll-shrink=S]
          -device virtio-blk-pci|virtio-blk-device,drive=D,iothread=IO
                                sidecore: the disk's queue is served by thread IO (devices
                                may share one), which after each request polls the rings for
                                an adaptive window, QEMU's: from 4 us, times G (default 2)
                                while requests come within poll-max-ns (default 32768; 0: never
                                polls), shrunk (divided by S, default to 0) after a longer wait.
                                While it polls the guest's notifications are suppressed, so a
                                guest that submits within the window does not exit to notify
                                (-trace exits counts the notifications per device). On tcg a
                                guest's round trip takes longer than the default: try 20000000.
                                virtio-blk only; QMP query-iothreads lists the threads.
                                Without iothread=, a raw cache=writeback disk serves each
                                request on the vCPU thread in its notify write (samecore)
          -device intel-iommu[,intremap=on|off|auto][,eim=on][,caching-mode=on][,device-iotlb=on][,aw-bits=39|48]
                                (-M q35 only) an Intel VT-d unit at 0xFED90000 as QEMU 7.2's, in
                                legacy mode: DMA remapping for the AHCI and for virtio devices
                                with iommu_platform=on (other virtio devices bypass it, as on
                                QEMU), and interrupt remapping (intremap: auto is on with tcg;
                                kvm has the in-kernel irqchip only, so intremap=on is refused
                                there). eim=on remaps to 32-bit x2APIC destinations and gives
                                the vCPUs x2APIC (QEMU 7.2: kvm with a split irqchip only).
                                No scalable mode
          -device pcie-root-port,id=ID[,bus=pcie.0][,addr=SLOT[.FN]][,port=N][,chassis=N][,slot=N][,multifunction=on]
                                (-M q35 only) a PCI Express root port (QEMU's, 1b36:000c); a
                                virtio-X-pci device with bus=ID (addr=0x0) sits behind it, on
                                the bus number the guest gives the port (Linux assigns numbers,
                                windows and BARs below it). Not with the IOMMU, iommu_platform or ats
          -device virtio-X-pci-non-transitional   the same device as virtio-X-pci (jvisor's are
                                modern-only, which is what QEMU's -non-transitional types are)
          -device virtio-X-pci,...,iommu_platform=on[,disable-legacy=on][,disable-modern=off][,ats=on]
                                offer VIRTIO_F_ACCESS_PLATFORM: the device's DMA goes through the
                                IOMMU (a refused DMA is a fault the guest sees, and the device
                                reports DEVICE_NEEDS_RESET). jvisor's virtio-pci devices are
                                modern-only: disable-legacy=off and disable-modern=on are refused.
                                ats=on: a PCIe function with the ATS capability; with
                                device-iotlb=on it keeps a device-TLB that only the guest's
                                device-IOTLB invalidations flush (QEMU 7.2: behind a PCIe port).
                                Refused on vhost-user-*-pci: jvisor's vhost-user sends no IOTLB
                                messages, so the backend could not translate IOVAs
          -chardev stdio,id=ID | file,id=ID,path=P[,append=on] | null,id=ID | pty,id=ID
          -chardev socket,id=ID,path=SOCK,server=on[,wait=off]
                                a character device: stdio (Ctrl-A escapes), a file, nothing,
                                a new pseudo-terminal (its /dev/pts/N in query-chardev),
                                or a Unix socket server (one client at a time; wait=on, the
                                default, waits for the first client before starting)
          -add-fd set=N,fd=M    an inherited descriptor M in fd set N; a path /dev/fdset/N
                                (-chardev file, -blockdev file) then names it
          -device virtio-serial-pci[,max_ports=N]  a virtio-serial controller (default 31 ports;
                                virtio-serial-device on microvm)
          -device virtconsole,chardev=ID[,name=N][,nr=K]   a console port: the guest's hvc0, ...
          -device virtserialport,chardev=ID[,name=N][,nr=K]
                                a data port: the guest's /dev/vportNpK (N in its sysfs name)
          -netdev tap,id=N[,ifname=TAP][,script=no,downscript=no]
                                a TAP device as network backend (attached if it exists,
                                created otherwise); jvisor runs no ifup/ifdown scripts
          -netdev stream,id=N,server=on|off,addr.type=unix,addr.path=SOCK
          -netdev stream,id=N,server=on|off,addr.type=inet,addr.host=HOST,addr.port=PORT
          -netdev stream,id=N,server=on|off,addr.type=fd,addr.str=FD
                                Ethernet frames over a stream socket, each after its 4-byte
                                big-endian length (QEMU 7.2's framing; passt, QEMU, another
                                jvisor): server=on listens for one peer at a time, server=off
                                connects at start-up; no offloads reach the guest
          -netdev user,id=N[,ipv4=on|off][,ipv6=on|off][,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-:GUESTPORT]...
                                user-mode networking without root: jvisor runs passt (Debian
                                package passt), the guest gets the host's address and gateway
                                by DHCP; hostfwd forwards a host port to the guest
          -nic user|stream|tap[,netdev options][,model=virtio][,mac=MAC]
                                a -netdev and its virtio NIC in one option (model=virtio,
                                virtio-net-pci or virtio-net-device; jvisor has no e1000)
          -device virtio-net-pci,netdev=N[,mac=52:54:00:12:34:56]
                                a virtio NIC connected to -netdev N (default MAC
                                52:54:00:12:34:56, counting up per NIC)
          -device virtio-rng-device, -device virtio-blk-device,drive=D,
          -device virtio-net-device,netdev=N   the same on microvm
          -chardev socket,id=ID,path=SOCK[,reconnect=N]
          -device vhost-user-blk-pci,chardev=ID[,num-queues=N][,queue-size=N][,config-wce=on|off]
                                a disk served by a vhost-user backend listening at SOCK (e.g.
                                qemu-storage-daemon --export type=vhost-user-blk,...); needs
                                -machine memory-backend= with share=on RAM. num-queues defaults
                                to one per vCPU, queue-size to 128. reconnect=N: wait for the
                                backend at start, and when it dies connect again every N s and go
                                on with the guest's I/O; without it the disk fails every request
                                from then on
                                (vhost-user-blk-device on microvm). On kvm the backend's
                                completions interrupt the guest in the kernel (irqfd);
                                x-irqfd=off relays them through jvisor instead (comparison)
          -device vhost-user-fs-pci,chardev=ID,tag=TAG[,num-request-queues=N][,queue-size=N]
                                a host directory shared by virtiofsd (/usr/lib/qemu/virtiofsd
                                --socket-path=SOCK -o source=DIR); the guest mounts it with
                                mount -t virtiofs TAG DIR (vhost-user-fs-device on microvm)

        Monitors (QMP and the human monitor, as QEMU 7.2):
          -qmp unix:PATH,server=on,wait=off   -qmp tcp:HOST:PORT,server=on,wait=off
                                a QMP monitor on a socket (also the old 'server,nowait');
                                wait=on (the default) waits for a client before starting
          -chardev socket,id=ID,path=PATH|host=H,port=N|fd=FD,server=on,wait=off
                                (fd=: a listening socket inherited from libvirt)
          -monitor stdio|unix:PATH,server=on,wait=off|tcp:HOST:PORT,server=on,wait=off|chardev:ID|none
                                the human monitor (HMP, "(qemu) " prompt): help, info status|
                                version|name|kvm|cpus|registers|block|chardev|history, stop,
                                cont, system_reset, system_powerdown, quit, device_add,
                                device_del, eject, change, xp /FMT ADDR; the same commands as
                                QMP's human-monitor-command. A socket takes one client at a time
          -mon chardev=ID[,mode=readline]   the human monitor on a stdio or socket chardev
          -mon chardev=ID,mode=control[,pretty=on]
                                a QMP monitor on a socket chardev (pretty: indented replies);
                                CD-ROM media: eject, blockdev-change-medium, blockdev-open-tray,
                                blockdev-close-tray, blockdev-remove-medium (DEVICE_TRAY_MOVED),
                                blockdev-add/-insert-medium/-del (virsh change-media)
          -name NAME, -name guest=NAME[,process=P]   the guest's name (query-name); P: what ps shows
          -pidfile FILE         write jvisor's process id to FILE (removed at exit)
          -daemonize            run detached; return once the monitors and pidfile are ready

        Server (many machines in one process):
          jvisor -control unix:PATH,server=on,wait=off [-pidfile FILE]
                                serve machines over a QMP-framed control socket:
                                vm-create {name, args: [jvisor options]}, vm-list,
                                vm-destroy {name}, quit; event VM_ENDED. Each machine has
                                its own monitors and consoles (sockets, no terminal) and
                                shares translated guest code with the others

        vhost-user-blk backend (a disk served to another VMM, e.g. QEMU's -device vhost-user-blk-pci):
          jvisor vhost-user-blk --socket-path=PATH --blockdev=FILE [--read-only] [--num-queues=N]
                                serve the image FILE (raw or qcow2; or QEMU's -blockdev spelling,
                                e.g. driver=qcow2,file.filename=F) on the Unix socket PATH (or
                                --fd=N), one frontend after another, until SIGTERM/SIGINT;
                                --print-capabilities, and jvisor vhost-user-blk --help for the rest

        Accepted as QEMU takes them (what libvirt passes; anything jvisor cannot honour is an error):
          -no-user-config, -nodefaults (no default serial port), -uuid UUID,
          -cpu MODEL[,+FLAG|,-FLAG|,FLAG=on|off...][,enforce][,check=off][,migratable=on|off]
                   [,kvm=off][,pmu=off][,l3-cache=off]   (-cpu help lists models and flags)
                                MODEL: qemu64 (default) and max are the engine's feature set
                                (tcg: what its interpreter implements; kvm: KVM's supported
                                CPUID), not QEMU's qemu64 list; max adds x2APIC on tcg; host
                                (kvm only) is KVM's set; base has no flag. FLAG: QEMU's names
                                (sse4.2, sse4_2, hypervisor, x2apic...); -FLAG hides it from the
                                guest, +FLAG the engine lacks stays off with a warning (an error
                                with enforce); -f beats +f, both beat f=, as in QEMU. kvm=off hides
                                the KVM signature leaves, pmu=off CPUID leaf 0Ah, l3-cache=off the
                                level-3 cache leaves; migratable (max, host) leaves out invtsc.
                                On kvm -x2apic is refused; hv-* (Hyper-V) too
          -smp N,sockets=,dies=,cores=,threads=, -rtc base=utc, -msg timestamp=on (messages start with the time),
          -overcommit mem-lock=off, -audiodev none,id=ID, -global PIIX4_PM.disable_s3=...
          -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=on|off
                                q35: pcie-root-ports hot-plug through ACPI (on, QEMU 7.2's
                                default: the guest's acpiphp) or natively (off: pciehp)

        Diagnostics:
          -trace exits          at the end, print VM exit counts and handling times per
                                exit reason and per device (and what the guest asked of
                                intel-iommu: invalidations by kind, waits, walks, faults)
          -trace migration      each migration's phases and their times, one line per side
                                as it ends (the destination's at the guest's resume), with
                                the wall-clock moments of the stop and the resume
          -d guest_errors,unimp log guest errors (with registers) / unimplemented instructions
          -d jit                at the end, what tcg translated: units, bytecode, time spent
                                translating, units invalidated, the hottest units
          -d firmware           the firmware's debug log (SeaBIOS writes it to port 0x402)
          --help, --version
        """;
}
