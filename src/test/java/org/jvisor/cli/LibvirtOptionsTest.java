package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.jvisor.config.BlockNode;
import org.jvisor.config.MachineConfig;
import org.jvisor.qmp.MonitorConfig;

/**
 * The command line libvirt 9.0 generates (shared/reference/libvirt-qemu-cmdline.txt, and the one
 * it makes for a domain with a pty console), and QEMU's errors for what jvisor cannot do.
 */
class LibvirtOptionsTest {
    /** libvirt's options for a domain with direct kernel boot, a raw virtio disk and a pty serial console. */
    private static final List<String> DOMAIN = List.of(
        "-name", "guest=qref,debug-threads=on", "-S",
        "-object", "{\"qom-type\":\"secret\",\"id\":\"masterKey0\",\"format\":\"raw\",\"data\":\"k\"}",
        "-machine", "pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram",
        "-accel", "tcg", "-cpu", "qemu64", "-m", "512",
        "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"size\":536870912}",
        "-overcommit", "mem-lock=off", "-smp", "1,sockets=1,cores=1,threads=1",
        "-uuid", "285043ab-cf75-4320-aff2-d8abf8d368d6", "-display", "none", "-no-user-config", "-nodefaults",
        "-chardev", "socket,id=charmonitor,fd=28,server=on,wait=off", "-mon", "chardev=charmonitor,id=monitor,mode=control",
        "-rtc", "base=utc", "-no-shutdown", "-boot", "strict=on",
        "-kernel", "/k", "-initrd", "/i", "-append", "console=ttyS0 quiet",
        "-blockdev", "{\"driver\":\"file\",\"filename\":\"/d.img\",\"node-name\":\"libvirt-1-storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}",
        "-blockdev", "{\"node-name\":\"libvirt-1-format\",\"read-only\":true,\"driver\":\"raw\",\"file\":\"libvirt-1-storage\"}",
        "-device", "{\"driver\":\"virtio-blk-pci\",\"bus\":\"pci.0\",\"addr\":\"0x2\",\"drive\":\"libvirt-1-format\",\"id\":\"virtio-disk0\",\"bootindex\":1}",
        "-chardev", "pty,id=charserial0",
        "-device", "{\"driver\":\"isa-serial\",\"chardev\":\"charserial0\",\"id\":\"serial0\",\"index\":0}",
        "-audiodev", "{\"id\":\"audio1\",\"driver\":\"none\"}",
        "-sandbox", "off", "-msg", "timestamp=on");

    private static CommandLine.Action.Run run(List<String> args) throws UsageException {
        return (CommandLine.Action.Run) CommandLine.parse(args.toArray(String[]::new));
    }

    private static List<String> with(List<String> base, String... more) {
        List<String> l = new java.util.ArrayList<>(base);
        l.addAll(List.of(more));
        return l;
    }

    private static String error(String... args) {
        return assertThrows(UsageException.class, () -> CommandLine.parse(args)).getMessage();
    }

    /** libvirt's IDE disk and CD-ROM on an i440fx domain: -blockdev nodes used by -device ide-hd/ide-cd. */
    @Test
    void libvirtsIdeDiskAndCdrom() throws UsageException {
        MachineConfig c = run(List.of("-machine", "pc-i440fx-7.2", "-kernel", "/k",
            "-blockdev", "{\"driver\":\"file\",\"filename\":\"/d.img\",\"node-name\":\"libvirt-2-storage\"}",
            "-blockdev", "{\"node-name\":\"libvirt-2-format\",\"driver\":\"qcow2\",\"file\":\"libvirt-2-storage\"}",
            "-device", "{\"driver\":\"ide-hd\",\"bus\":\"ide.0\",\"unit\":0,\"drive\":\"libvirt-2-format\",\"id\":\"ide0-0-0\",\"bootindex\":1}",
            "-blockdev", "{\"driver\":\"file\",\"filename\":\"/cd.iso\",\"node-name\":\"libvirt-1-storage\",\"read-only\":true}",
            "-blockdev", "{\"node-name\":\"libvirt-1-format\",\"read-only\":true,\"driver\":\"raw\",\"file\":\"libvirt-1-storage\"}",
            "-device", "{\"driver\":\"ide-cd\",\"bus\":\"ide.1\",\"unit\":0,\"drive\":\"libvirt-1-format\",\"id\":\"ide0-1-0\"}")).config();
        assertEquals(List.of(
            new MachineConfig.IdeDriveConfig("libvirt-2-format", 0, MachineConfig.IdeDriveConfig.Media.DISK),
            new MachineConfig.IdeDriveConfig("libvirt-1-format", 2, MachineConfig.IdeDriveConfig.Media.CDROM)), c.ideDrives());
        assertEquals(List.of(Path.of("/d.img"), Path.of("/cd.iso")), c.drives().stream().map(MachineConfig.DriveConfig::file).toList());
        assertEquals(List.of(), c.virtioDevices());
        assertEquals(List.of(new MachineConfig.IdeDriveConfig("b", 1, MachineConfig.IdeDriveConfig.Media.DISK)),
            run(List.of("-hda", "a", "-drive", "file=b,if=none,id=b", "-device", "ide-hd,drive=b,bus=ide.0"))
                .config().ideDrives().subList(1, 2), "the first free unit of the bus");
        assertEquals("-device ide-hd,drive=b: unit 0 of ide.0 is taken",
            error("-hda", "a", "-drive", "file=b,if=none,id=b", "-device", "ide-hd,drive=b,bus=ide.0,unit=0"));
        assertEquals("-device ide-cd: Bus 'ide.2' not found (the IDE buses are ide.0 and ide.1)",
            error("-drive", "file=b,if=none,id=b", "-device", "ide-cd,drive=b,bus=ide.2"));
        assertEquals("-device ide-hd/ide-cd: drive=nope: no -drive id or -blockdev node-name 'nope'",
            error("-device", "ide-hd,drive=nope"));
    }

    /** An empty CD-ROM drive: libvirt's ide-cd without drive= (a cdrom without a source), and -drive media=cdrom without file=. */
    @Test
    void emptyCdromDrives() throws UsageException {
        CommandLine.Action.Run r = run(List.of("-machine", "pc-i440fx-7.2", "-kernel", "/k",
            "-device", "{\"driver\":\"ide-cd\",\"bus\":\"ide.1\",\"unit\":0,\"id\":\"ide0-1-0\"}",
            "-drive", "if=ide,media=cdrom,index=0,id=cd0"));
        MachineConfig c = r.config();
        assertEquals(java.util.Set.of("#ide0-1-0", "cd0"),
            c.drives().stream().filter(d -> d.file() == null).map(MachineConfig.DriveConfig::id).collect(java.util.stream.Collectors.toSet()));
        assertTrue(c.ideDrives().contains(new MachineConfig.IdeDriveConfig("#ide0-1-0", 2, MachineConfig.IdeDriveConfig.Media.CDROM)));
        assertTrue(c.ideDrives().contains(new MachineConfig.IdeDriveConfig("cd0", 0, MachineConfig.IdeDriveConfig.Media.CDROM)));
        assertEquals("ide0-1-0", r.qomNames().deviceOf("#ide0-1-0"), "QMP finds it by the device's id");
        assertEquals("-device ide-hd: drive=ID is required (only a CD-ROM drive may be empty)", error("-device", "ide-hd,bus=ide.0"));
        assertEquals("-drive: file=PATH is required (only a CD-ROM drive, media=cdrom, may be empty)", error("-drive", "if=ide"));
    }

    @Test
    void libvirtsDomainCommandLine() throws UsageException {
        CommandLine.Action.Run r = run(DOMAIN);
        MachineConfig c = r.config();
        assertEquals(MachineConfig.MachineType.PC, c.machineType());
        assertEquals(MachineConfig.Accel.TCG, c.accel());
        assertEquals(512L << 20, c.memoryBytes());
        assertEquals(List.of(new MachineConfig.DriveConfig("libvirt-1-format", Path.of("/d.img"), true, "writeback", false)),
            c.drives());
        assertEquals(List.of(new MachineConfig.VirtioDeviceConfig.VirtioBlk("libvirt-1-format", MachineConfig.Transport.PCI)),
            c.virtioDevices());
        assertEquals(new MachineConfig.SerialConfig.Chardev("charserial0"), c.serial());
        assertEquals(List.of(new MachineConfig.ChardevConfig.Pty("charserial0")), c.chardevs());
        assertEquals(List.of(new MonitorConfig("charmonitor", new MonitorConfig.Address.Inherited(28), false, false)), r.monitors());
        assertEquals(new org.jvisor.qmp.QomNames(Map.of("virtio-disk0", "virtio-blk-pci", "serial0", "isa-serial"),
            Map.of("libvirt-1-format", "virtio-disk0"), Map.of("libvirt-1-format", "virtio-disk0"),
            Map.of("libvirt-1-storage", new BlockNode.FileNode("/d.img", false, false, true),   // libvirt's discard=unmap
                "libvirt-1-format", new BlockNode.FormatNode("raw", "libvirt-1-storage", true)), HotplugOptions.PARSER), r.qomNames());
        assertEquals(Map.of(0, 2), c.pciSlots());       // addr=0x2: where libvirt put the disk
        assertTrue(r.startPaused() && c.noShutdown() && r.msgTimestamps());
    }

    /** libvirt's q35 domain: root ports at 00:01.0 (multifunction) and 00:01.1, the disk behind the first. */
    @Test
    void libvirtsQ35DomainPutsTheDiskBehindARootPort() throws UsageException {
        List<String> q35 = new java.util.ArrayList<>(DOMAIN);
        q35.set(q35.indexOf("pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram"),
            "pc-q35-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram");
        int disk = q35.indexOf(DOMAIN.stream().filter(a -> a.contains("virtio-blk-pci")).findFirst().orElseThrow());
        q35.set(disk, "{\"driver\":\"virtio-blk-pci\",\"bus\":\"pci.1\",\"addr\":\"0x0\",\"drive\":\"libvirt-1-format\","
            + "\"id\":\"virtio-disk0\",\"bootindex\":1}");
        q35.addAll(disk - 1, List.of(
            "-device", "{\"driver\":\"pcie-root-port\",\"port\":8,\"chassis\":1,\"id\":\"pci.1\",\"bus\":\"pcie.0\","
                + "\"multifunction\":true,\"addr\":\"0x1\"}",
            "-device", "pcie-root-port,port=9,chassis=2,id=pci.2,bus=pcie.0,addr=0x1.0x1"));
        MachineConfig c = run(q35).config();
        assertEquals(List.of(new MachineConfig.PcieRootPortConfig("pci.1", 1, 0, 8, 0, true),
            new MachineConfig.PcieRootPortConfig("pci.2", 1, 1, 9, 0, false)), c.pcieRootPorts());
        assertEquals(Map.of(0, "pci.1"), c.pciBuses());
        assertEquals(Map.of(), c.pciSlots());
        // the -non-transitional name is the same modern-only device
        assertEquals(Map.of(0, "pci.2"), run(with(List.of("-M", "q35", "-kernel", "/k", "-drive", "file=/d,if=none,id=d"),
            "-device", "pcie-root-port,id=pci.2,chassis=2", "-device", "virtio-blk-pci-non-transitional,drive=d,bus=pci.2"))
            .config().pciBuses());
        assertEquals("-device pcie-root-port: the pc machine has no PCI Express root bus (use -machine q35)",
            error("-kernel", "/k", "-device", "pcie-root-port,id=p"));
        assertEquals("-device virtio-rng-pci: Bus 'pcie.0' not found (the pc machine's root bus is pci.0)",
            error("-kernel", "/k", "-device", "virtio-rng-pci,bus=pcie.0"));
        assertTrue(error("-M", "q35", "-kernel", "/k", "-device", "virtio-rng-pci,bus=pci.3").startsWith(
            "-device virtio-rng-pci: Bus 'pci.3' not found"));
        assertEquals("-device virtio-rng-pci: addr=0x1 behind p: a root port's link has device 0, function 0 only in jvisor (addr=0x0)",
            error("-M", "q35", "-kernel", "/k", "-device", "pcie-root-port,id=p", "-device", "virtio-rng-pci,bus=p,addr=0x1"));
        assertEquals("-device pcie-root-port: Can't add chassis slot, error -16 (another port has chassis=0,slot=0)",
            error("-M", "q35", "-kernel", "/k", "-device", "pcie-root-port,id=p", "-device", "pcie-root-port,id=q"));
        assertTrue(error("-M", "q35", "-kernel", "/k", "-device", "pcie-root-port,id=p",
            "-device", "virtio-rng-pci,bus=p,iommu_platform=on").contains("cover the root bus only"));
    }

    @Test
    void theProbeCommandLineNeedsNoGuest() throws UsageException {
        CommandLine.Action.Run r = run(List.of("-S", "-no-user-config", "-nodefaults", "-nographic", "-machine", "none,accel=kvm:tcg",
            "-qmp", "unix:/tmp/qmp.monitor,server=on,wait=off", "-pidfile", "/tmp/qmp.pid", "-daemonize"));
        assertEquals(MachineConfig.MachineType.NONE, r.config().machineType());
        assertEquals(MachineConfig.Accel.AUTO, r.config().accel());
        assertEquals(new MachineConfig.SerialConfig.None(), r.config().serial());   // -nodefaults: no serial on stdio
        assertTrue(r.daemonize());
        assertTrue(error("-machine", "none", "-kernel", "k").contains("-machine none has no guest"));
        assertTrue(error("-machine", "none,accel=hax").contains("'hax' is not an accelerator"));
    }

    @Test
    void keyValueAndJsonSpellingsAgree() throws UsageException {
        MachineConfig json = run(List.of("-kernel", "k", "-blockdev", "{\"driver\":\"file\",\"filename\":\"/a\",\"node-name\":\"f\"}",
            "-blockdev", "{\"driver\":\"raw\",\"node-name\":\"r\",\"file\":\"f\"}",
            "-device", "{\"driver\":\"virtio-blk-pci\",\"drive\":\"r\",\"id\":\"d\"}")).config();
        // libvirt's qcow2 node without a backing file says "backing": null
        MachineConfig qcow2 = run(List.of("-kernel", "k", "-blockdev", "{\"driver\":\"file\",\"filename\":\"/a\",\"node-name\":\"f\"}",
            "-blockdev", "{\"driver\":\"qcow2\",\"node-name\":\"q\",\"file\":\"f\",\"backing\":null}",
            "-device", "virtio-blk-pci,drive=q,id=d")).config();
        assertEquals("qcow2", qcow2.drives().get(0).format());
        MachineConfig kv = run(List.of("-kernel", "k", "-blockdev", "driver=file,filename=/a,node-name=f",
            "-blockdev", "driver=raw,node-name=r,file=f", "-device", "virtio-blk-pci,drive=r,id=d")).config();
        assertEquals(json, kv);
        MachineConfig direct = run(List.of("-kernel", "k", "-blockdev",
            "{\"driver\":\"file\",\"filename\":\"/a\",\"node-name\":\"f\",\"cache\":{\"direct\":true,\"no-flush\":false}}",
            "-blockdev", "{\"driver\":\"raw\",\"node-name\":\"r\",\"file\":\"f\"}",
            "-device", "virtio-blk-pci,drive=r")).config();
        assertEquals("none", direct.drives().getFirst().cache());    // nested objects are QEMU's dotted keys
    }

    @Test
    void badInputGetsQemusKindOfError() {
        assertTrue(error("-kernel", "k", "-device", "{\"driver\":\"virtio-blk-pci\",").contains("-device: malformed JSON"));
        assertTrue(error("-kernel", "k", "-device", "[1]").contains("-device"));
        assertTrue(error("-kernel", "k", "-device", "{\"drive\":\"x\"}").contains("Parameter 'driver' is missing"));
        assertTrue(error("-kernel", "k", "-device", "{\"driver\":\"virtio-gpu-pci\"}").contains("'virtio-gpu-pci' is not a device jvisor has"));
        assertTrue(error("-kernel", "k", "-device", "{\"driver\":\"virtio-rng-pci\",\"colour\":\"red\"}").contains("unknown property 'colour'"));
        assertTrue(error("-kernel", "k", "-device", "{\"driver\":\"virtio-rng-pci\",\"bus\":\"pci.1\"}").contains("Bus 'pci.1' not found"));
        assertTrue(error("-kernel", "k", "-device", "virtio-rng-pci,id=a", "-device", "virtio-rng-pci,id=a").contains("Duplicate device ID 'a'"));
        assertTrue(error("-kernel", "k", "-device", "virtio-rng-pci,addr=zz").contains("addr='zz' is not a PCI slot"));
        assertTrue(error("-kernel", "k", "-device", "virtio-rng-pci,addr=0x20").contains("slot 32 is out of range"));
        assertTrue(error("-kernel", "k", "-device", "virtio-rng-pci,addr=0x3.0x1").contains("function 1"));
        assertTrue(error("-kernel", "k", "-M", "microvm", "-device", "virtio-rng-device,addr=0x3").contains("is not a place"));
        assertTrue(error("-kernel", "k", "-object", "{\"qom-type\":\"memory-backend-file\",\"id\":\"m\",\"size\":1048576}")
            .contains("property 'mem-path' is required"));
        assertTrue(error("-kernel", "k", "-object", "{\"qom-type\":\"rng-egd\",\"id\":\"r\",\"chardev\":\"c\"}")
            .contains("rng-egd: the EGD protocol backend is not supported"));
        assertTrue(error("-kernel", "k", "-object", "{\"qom-type\":\"memory-backend-epc\",\"id\":\"r\"}")
            .contains("'memory-backend-epc' is not an object type jvisor has"));
        assertTrue(error("-kernel", "k", "-object", "{\"qom-type\":\"secret\"}").contains("Parameter 'id' is missing"));
        assertTrue(error("-kernel", "k", "-blockdev", "{\"driver\":\"vmdk\",\"node-name\":\"q\",\"file\":\"f\"}")
            .contains("driver 'vmdk' is not supported by jvisor (image formats: raw, qcow2)"));
        assertTrue(error("-kernel", "k", "-blockdev", "{\"driver\":\"nbd\",\"node-name\":\"n\"}")
            .contains("Parameter 'driver' does not accept value 'nbd'"));
        assertTrue(error("-kernel", "k", "-blockdev", "driver=file,node-name=f,filename=/a,size=3").contains("unknown property 'size'"));
        assertTrue(error("-kernel", "k", "-blockdev", "driver=file,node-name=f,filename=/a,detect-zeroes=unmap")
            .contains("detect-zeroes=unmap is not supported"));
        assertTrue(error("-kernel", "k", "-blockdev", "driver=file,node-name=f,filename=/a,discard=maybe").contains("discard=maybe"));
        assertTrue(error("-kernel", "k", "-device", "virtio-blk-pci,drive=nowhere").contains("no -drive id or -blockdev node-name 'nowhere'"));
        assertTrue(error("-kernel", "k", "-add-fd", "set=0,fd=987").contains("fd=987 is not an open descriptor of jvisor"));
        assertTrue(error("-kernel", "k", "-chardev", "file,id=f,path=/dev/fdset/3", "-serial", "chardev:f").contains("there is no fd set 3"));
        assertTrue(error("-kernel", "k", "-chardev", "socket,id=m,fd=x,server=on").contains("'x' is not a descriptor number"));
        assertTrue(error("-kernel", "k", "-chardev", "socket,id=m,fd=9,server=on", "-serial", "chardev:m")
            .contains("only a QMP monitor (-mon) can use"));
        assertTrue(error("-kernel", "k", "-machine", "pc,memory-backend=ram0").contains("Memory backend 'ram0' not found"));
        assertTrue(error("-kernel", "k", "-m", "256", "-object", "memory-backend-ram,id=r,size=128M", "-machine", "pc,memory-backend=r")
            .contains("differs from -m"));
        assertTrue(error("-kernel", "k", "-rtc", "base=localtime").contains("base=utc"));
        assertTrue(error("-kernel", "k", "-overcommit", "mem-lock=on").contains("mem-lock=on is not supported"));
        assertTrue(error("-kernel", "k", "-cpu", "Haswell").contains("not a CPU model jvisor has"));
        assertTrue(error("-kernel", "k", "-cpu", "qemu64,+avx3").contains("Property 'qemu64-x86_64-cpu.avx3' not found"));
        assertTrue(error("-kernel", "k", "-uuid", "nope").contains("is not a UUID"));
        assertTrue(error("-kernel", "k", "-global", "e1000.mac=x").contains("not a device property jvisor has"));
        assertTrue(error("-kernel", "k", "-audiodev", "pa,id=a").contains("driver 'pa' is not supported"));
        assertTrue(error("-kernel", "k", "-msg", "guest-name=on").contains("guest-name=on is not supported"));
    }

    /** -cpu: qemu64 (the default) without x2APIC on tcg, max with it, and QEMU's three spellings of the flag. */
    @Test
    void cpuModelAndX2apicFlag() throws UsageException {
        assertFalse(run(List.of("-kernel", "k")).config().cpu().x2apicOnTcg());
        assertFalse(run(List.of("-kernel", "k", "-cpu", "qemu64")).config().cpu().x2apicOnTcg());
        assertTrue(run(List.of("-kernel", "k", "-cpu", "max")).config().cpu().x2apicOnTcg());
        assertTrue(run(List.of("-kernel", "k", "-cpu", "qemu64,+x2apic")).config().cpu().x2apicOnTcg());
        assertTrue(run(List.of("-kernel", "k", "-cpu", "qemu64,x2apic=on")).config().cpu().x2apicOnTcg());
        assertFalse(run(List.of("-kernel", "k", "-cpu", "max,-x2apic")).config().cpu().x2apicOnTcg());
        assertEquals(new MachineConfig.CpuConfig("max", false), run(List.of("-kernel", "k", "-cpu", "max,x2apic=off"))
            .config().cpu());
    }

    @Test
    void msgTimestampPutsQemusTimeFormatBeforeEachLine() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = TimestampedStream.wrap(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        out.println("jvisor: one");
        out.print("jvisor: tw");
        out.println("o");
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(2, lines.size(), lines.toString());
        for (String l : lines) {
            assertTrue(l.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z jvisor: (one|two)"), l);
        }
    }

    @Test
    void aBadOptionEndsJvisorWithStatusOne() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(new String[] {"-kernel", "k", "-device", "{\"driver\":"}, new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(1, status);
        String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.startsWith("jvisor: -device: malformed JSON"), text);
        assertEquals(1, text.lines().count(), text);
    }
}
