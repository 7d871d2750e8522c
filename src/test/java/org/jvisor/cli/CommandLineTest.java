package org.jvisor.cli;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;
import org.jvisor.config.MachineConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandLineTest {

    private static MachineConfig parse(String... args) throws UsageException {
        return ((CommandLine.Action.Run) CommandLine.parse(args)).config();
    }

    @Test
    void qemuSpellingsAreAccepted() throws UsageException {
        MachineConfig c = parse("-enable-kvm", "-m", "2G", "-smp", "cpus=4", "-kernel", "k.elf", "-nographic",
            "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-trace", "exits",
            "-d", "guest_errors,unimp", "-display", "none");
        assertEquals(MachineConfig.Accel.KVM, c.accel());
        assertEquals(2L << 30, c.memoryBytes());
        assertEquals(4, c.cpus());
        assertEquals(Path.of("k.elf"), c.kernel());
        // -nographic: the serial port shares stdio with the human monitor (QEMU's mon:stdio)
        assertInstanceOf(MachineConfig.SerialConfig.MonStdio.class, c.serial());
        assertTrue(c.noReboot());
        assertEquals(new MachineConfig.DebugExitConfig(0xf4, 4), c.debugExits().get(0));
        assertTrue(c.traceExits());
        assertTrue(c.guestErrors());
    }

    @Test
    void traceTakesExitsAndMigrationAndNamesThemForAnythingElse() throws UsageException {
        assertTrue(parse("-kernel", "k", "-trace", "migration").traceMigration());
        assertFalse(parse("-kernel", "k", "-trace", "migration").traceExits());
        assertTrue(parse("-kernel", "k", "-trace", "events=exits", "-trace", "enable=migration").traceMigration());
        assertFalse(parse("-kernel", "k").traceMigration());
        UsageException e = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-trace", "migrate"));
        assertEquals("-trace: unknown trace event 'migrate' (known: exits, migration)", e.getMessage());
    }

    @Test
    void incomingTakesQemusUrisAndRefusesWhatNeedsAMonitor() throws UsageException {
        CommandLine.Action.Run run = (CommandLine.Action.Run) CommandLine.parse(new String[] {"-kernel", "k",
            "-incoming", "file:/tmp/vm.jvsnap", "-S"});
        assertEquals("file:/tmp/vm.jvsnap", run.incoming());
        assertTrue(run.startPaused());
        assertEquals(null, ((CommandLine.Action.Run) CommandLine.parse(new String[] {"-kernel", "k"})).incoming());
        UsageException defer = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-incoming", "defer"));
        assertEquals("-incoming defer: the machine waits for QMP's migrate-incoming, so it needs a monitor "
            + "(-qmp unix:PATH,server=on,wait=off)", defer.getMessage());
        CommandLine.Action.Run deferred = (CommandLine.Action.Run) CommandLine.parse(new String[] {"-kernel", "k",
            "-incoming", "defer", "-qmp", "unix:/tmp/m.sock,server=on,wait=off"});
        assertTrue(deferred.incomingDefer());
        assertEquals(null, deferred.incoming());
        for (String uri : new String[] {"tcp:0:4444", "tcp:[::1]:4444", "unix:/tmp/m.sock", "exec:cat /tmp/vm.jvsnap"}) {
            assertEquals(uri, ((CommandLine.Action.Run) CommandLine.parse(new String[] {"-kernel", "k", "-incoming", uri}))
                .incoming());
        }
        UsageException rdma = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-incoming", "rdma:h:4444"));
        assertEquals("-incoming rdma:h:4444: migration URI 'rdma:h:4444': jvisor takes file:PATH, unix:PATH, "
            + "tcp:HOST:PORT and exec:CMD", rdma.getMessage());
        UsageException port = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-incoming", "tcp:h:http"));
        assertEquals("-incoming tcp:h:http: migration URI 'tcp:h:http': expected tcp:HOST:PORT", port.getMessage());
    }

    @Test
    void virtioRngTakesQemusIoeventfdProperty() throws UsageException {
        assertTrue(parse("-kernel", "k", "-device", "virtio-rng-pci").virtioDevices().get(0).ioeventfd());
        assertEquals(false, parse("-kernel", "k", "-device", "virtio-rng-pci,ioeventfd=off").virtioDevices().get(0).ioeventfd());
        assertTrue(parse("-kernel", "k", "-device", "virtio-rng-pci,ioeventfd=on").virtioDevices().get(0).ioeventfd());
        UsageException bad = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-device", "virtio-rng-pci,ioeventfd=maybe"));
        assertTrue(bad.getMessage().contains("virtio-rng-pci: ioeventfd='maybe' (expected on or off)"), bad.getMessage());
    }

    /**
     * Parts jvisor's machines do not have, as libvirt and virt-install turn them off: -no-hpet,
     * -machine hpet=off, smm=off|auto, vmport=off|auto; on is refused by name.
     */
    @Test
    void machinePartsJvisorLacksMayBeTurnedOffNotOn() throws UsageException {
        assertEquals(MachineConfig.MachineType.Q35, parse("-kernel", "k", "-no-hpet",
            "-machine", "pc-q35-7.2,usb=off,vmport=off,smm=off,hpet=off,dump-guest-core=off").machineType());
        parse("-kernel", "k", "-machine", "pc,vmport=auto,smm=auto");
        for (String on : new String[] {"hpet=on", "smm=on", "vmport=on"}) {
            UsageException e = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-machine", "q35," + on));
            assertTrue(e.getMessage().contains(on + ": jvisor's machines have no"), e.getMessage());
        }
        UsageException bad = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-machine", "pc,smm=maybe"));
        assertTrue(bad.getMessage().contains("smm"), bad.getMessage());
        // <pm><suspend-to-mem enabled='no'/>: S3 and S4 off, as jvisor's DSDT already has them
        parse("-kernel", "k", "-M", "q35", "-global", "ICH9-LPC.disable_s3=1", "-global", "ICH9-LPC.disable_s4=1");
        parse("-kernel", "k", "-global", "PIIX4_PM.disable_s3=1");
        UsageException s3 = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-global", "PIIX4_PM.disable_s3=0"));
        assertTrue(s3.getMessage().contains("no S3 sleep state"), s3.getMessage());
    }

    /** q35's root ports hot-plug through ACPI unless -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off (QEMU's bool words). */
    @Test
    void acpiPciHotplugWithBridgeSupportSwitchesQ35sHotplug() throws UsageException {
        String key = "ICH9-LPC.acpi-pci-hotplug-with-bridge-support";
        assertTrue(parse("-kernel", "k", "-M", "q35").acpiPcieHotplug(), "QEMU 7.2's default");
        assertFalse(parse("-kernel", "k", "-M", "q35", "-global", key + "=off").acpiPcieHotplug());
        assertFalse(parse("-kernel", "k", "-M", "q35", "-global", key + "=false").acpiPcieHotplug());
        assertTrue(parse("-kernel", "k", "-M", "q35", "-global", key + "=off", "-global", key + "=on").acpiPcieHotplug(),
            "the last one counts");
        UsageException bad = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-M", "q35", "-global", key + "=maybe"));
        assertEquals("-global: " + key + "='maybe' (expected on or off)", bad.getMessage());
        UsageException unknown = assertThrows(UsageException.class,
            () -> parse("-kernel", "k", "-M", "q35", "-global", "ICH9-LPC.acpi-pci-hotplug=off"));
        assertTrue(unknown.getMessage().startsWith("-global: 'ICH9-LPC.acpi-pci-hotplug=off' is not a device property jvisor has"),
            unknown.getMessage());
    }

    /**
     * virtio-rng's rng= names an -object rng-random (filename=, default /dev/urandom) or
     * rng-builtin given anywhere on the line, as libvirt's {@code <rng>} makes them (JSON);
     * max-bytes= and period= limit it; QEMU's words for what is wrong.
     */
    @Test
    void virtioRngTakesAnRngBackendObjectAndARateLimit() throws UsageException {
        MachineConfig.VirtioDeviceConfig.VirtioRng plain =
            (MachineConfig.VirtioDeviceConfig.VirtioRng) parse("-kernel", "k", "-device", "virtio-rng-pci").virtioDevices().get(0);
        assertEquals(new MachineConfig.RngBackend.Builtin(), plain.backend());
        assertEquals(Long.MAX_VALUE, plain.maxBytes());
        MachineConfig.VirtioDeviceConfig.VirtioRng libvirt = (MachineConfig.VirtioDeviceConfig.VirtioRng) parse("-kernel", "k",
            "-object", "{\"qom-type\":\"rng-random\",\"id\":\"objrng0\",\"filename\":\"/dev/hwrng\"}",
            "-device", "{\"driver\":\"virtio-rng-pci\",\"rng\":\"objrng0\",\"max-bytes\":1024,\"period\":1000,"
                + "\"id\":\"rng0\",\"bus\":\"pci.0\",\"addr\":\"0x5\"}").virtioDevices().get(0);
        assertEquals(new MachineConfig.RngBackend.RandomFile("/dev/hwrng"), libvirt.backend());
        assertEquals(1024, libvirt.maxBytes());
        assertEquals(1000, libvirt.periodMillis());
        // the device before its object, and the default file
        MachineConfig.VirtioDeviceConfig.VirtioRng before = (MachineConfig.VirtioDeviceConfig.VirtioRng) parse("-kernel", "k",
            "-device", "virtio-rng-device,rng=r", "-M", "microvm", "-object", "rng-random,id=r").virtioDevices().get(0);
        assertEquals(new MachineConfig.RngBackend.RandomFile("/dev/urandom"), before.backend());
        assertEquals(new MachineConfig.RngBackend.Builtin(), ((MachineConfig.VirtioDeviceConfig.VirtioRng) parse("-kernel", "k",
            "-object", "rng-builtin,id=b", "-device", "virtio-rng-pci,rng=b").virtioDevices().get(0)).backend());

        UsageException missing = assertThrows(UsageException.class,
            () -> parse("-kernel", "k", "-device", "virtio-rng-pci,rng=nothere"));
        assertTrue(missing.getMessage().contains("Device 'nothere' not found"), missing.getMessage());
        UsageException period = assertThrows(UsageException.class,
            () -> parse("-kernel", "k", "-device", "virtio-rng-pci,period=0"));
        assertTrue(period.getMessage().contains("'period' parameter expects a positive integer"), period.getMessage());
        UsageException bytes = assertThrows(UsageException.class,
            () -> parse("-kernel", "k", "-device", "virtio-rng-pci,max-bytes=-1"));
        assertTrue(bytes.getMessage().contains("'max-bytes' parameter must be non-negative"), bytes.getMessage());
        UsageException egd = assertThrows(UsageException.class,
            () -> parse("-kernel", "k", "-object", "rng-egd,id=e,chardev=c"));
        assertTrue(egd.getMessage().contains("rng-egd") && egd.getMessage().contains("not supported"), egd.getMessage());
        UsageException prop = assertThrows(UsageException.class,
            () -> parse("-kernel", "k", "-object", "rng-random,id=r,size=4"));
        assertTrue(prop.getMessage().contains("size"), prop.getMessage());
    }

    /**
     * -machine mem-merge (QEMU's, default on) and a memory-backend-ram's merge=, which wins for RAM
     * from that backend, as in QEMU; libvirt gives mem-merge=off for a domain with nosharepages.
     */
    @Test
    void memMergeIsOnByDefaultAndTheBackendsMergeWins() throws UsageException {
        assertTrue(parse("-kernel", "k").memMerge());
        assertFalse(parse("-kernel", "k", "-machine", "pc,mem-merge=off").memMerge());
        assertTrue(parse("-kernel", "k", "-machine", "mem-merge=off", "-machine", "mem-merge=on").memMerge());
        assertFalse(parse("-kernel", "k", "-machine", "pc,memory-backend=r", "-object", "memory-backend-ram,id=r,size=64M,merge=off")
            .memMerge());
        assertTrue(parse("-kernel", "k", "-machine", "pc,mem-merge=off,memory-backend=r",
            "-object", "memory-backend-ram,id=r,size=64M,merge=on").memMerge());
        assertFalse(parse("-kernel", "k", "-machine", "pc,mem-merge=off,memory-backend=r",
            "-object", "memory-backend-ram,id=r,size=64M").memMerge(), "a backend without merge= takes the machine's");
        UsageException e = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-machine", "mem-merge=maybe"));
        assertTrue(e.getMessage().contains("mem-merge"), e.getMessage());
    }

    /** -machine rng-seed: on unless turned off; a later -machine that does not name it keeps it. */
    @Test
    void rngSeedIsOnByDefaultAndCanBeTurnedOff() throws UsageException {
        assertTrue(parse("-kernel", "k").rngSeed());
        assertFalse(parse("-kernel", "k", "-machine", "microvm,rng-seed=off").rngSeed());
        assertFalse(parse("-kernel", "k", "-machine", "rng-seed=off", "-machine", "pc").rngSeed());
        UsageException e = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-machine", "rng-seed=2"));
        assertTrue(e.getMessage().contains("rng-seed"), e.getMessage());
    }

    @Test
    void machineTypesPickTheVirtioTransport() throws UsageException {
        MachineConfig pc = parse("-kernel", "k", "-drive", "file=a.img,format=raw,if=virtio", "-device", "virtio-rng-pci");
        assertEquals(MachineConfig.MachineType.PC, pc.machineType());
        assertEquals(java.util.List.of(new MachineConfig.VirtioDeviceConfig.VirtioBlk("drive0", MachineConfig.Transport.PCI),
            new MachineConfig.VirtioDeviceConfig.VirtioRng(MachineConfig.Transport.PCI)), pc.virtioDevices(),
            "devices in command-line order, -drive if=virtio included (the guest's vda, vdb... follow it)");

        // -machine may come after the -drive: if=virtio follows the machine's transport.
        MachineConfig microvm = parse("-kernel", "k", "-drive", "file=a.img,format=raw,if=virtio",
            "-drive", "id=b,file=b.img,format=raw,if=none", "-device", "virtio-blk-device,drive=b",
            "-M", "microvm,kernel-decompress=guest");
        assertEquals(MachineConfig.MachineType.MICROVM, microvm.machineType());
        assertEquals(false, microvm.decompressOnHost());
        assertEquals(java.util.List.of(new MachineConfig.VirtioDeviceConfig.VirtioBlk("drive0", MachineConfig.Transport.MMIO),
            new MachineConfig.VirtioDeviceConfig.VirtioBlk("b", MachineConfig.Transport.MMIO)), microvm.virtioDevices());

        UsageException noPci = assertThrows(UsageException.class,
            () -> parse("-kernel", "k", "-M", "microvm", "-device", "virtio-rng-pci"));
        assertEquals("-device virtio-rng-pci: the microvm machine has no PCI bus (use virtio-rng-device)", noPci.getMessage());
        UsageException noMmio = assertThrows(UsageException.class,
            () -> parse("-kernel", "k", "-device", "virtio-blk-device,drive=x"));
        assertTrue(noMmio.getMessage().contains("the pc machine has no virtio-mmio transports (use virtio-blk-pci)"),
            noMmio.getMessage());
        assertThrows(UsageException.class, () -> parse("-kernel", "k", "-M", "isapc"));
    }

    @Test
    void memorySizes() throws UsageException {
        assertEquals(256L << 20, CommandLine.parseMemory("256"));
        assertEquals(256L << 20, CommandLine.parseMemory("256M"));
        assertEquals(1536L << 20, CommandLine.parseMemory("1.5G"));
        assertEquals(64L << 20, CommandLine.parseMemory("size=64m"));
        assertEquals(512L << 10, CommandLine.parseMemory("512K"));
        for (String bad : new String[] {"", "M", "-5", "1X", "abc", "0", "1e9"}) {
            var e = assertThrows(UsageException.class, () -> CommandLine.parseMemory(bad), bad);
            assertTrue(e.getMessage().startsWith("-m:"), e.getMessage());
        }
    }

    @Test
    void serialTargets() throws UsageException {
        assertInstanceOf(MachineConfig.SerialConfig.None.class, parse("-serial", "none", "-kernel", "k").serial());
        assertEquals(new MachineConfig.SerialConfig.File(Path.of("/tmp/x")),
            parse("-serial", "file:/tmp/x", "-kernel", "k").serial());
        assertInstanceOf(MachineConfig.SerialConfig.None.class,
            parse("-serial", "none", "-nographic", "-kernel", "k").serial(), "-nographic does not override -serial");
    }

    @Test
    void accelChoices() throws UsageException {
        assertEquals(MachineConfig.Accel.AUTO, parse("-kernel", "k").accel());
        assertEquals(MachineConfig.Accel.TCG, parse("-accel", "tcg", "-kernel", "k").accel());
        assertEquals(MachineConfig.Accel.KVM, parse("--accel", "kvm", "-kernel", "k").accel());
        assertThrows(UsageException.class, () -> parse("-accel", "kvm", "-accel", "tcg", "-kernel", "k"));
        assertThrows(UsageException.class, () -> parse("-accel", "tcg,bogus=1", "-kernel", "k"));
    }

    @Test
    void translatorSettings() throws UsageException {
        var off = parse("-accel", "tcg,jit=off", "-kernel", "k").jit();
        assertFalse(off.enabled());
        var eager = parse("-accel", "tcg,jit-threshold=0", "-kernel", "k").jit();
        assertTrue(eager.enabled());
        assertEquals(0, eager.threshold());
        assertEquals(42, parse("-accel", "tcg,jit=on,jit-threshold=42", "-kernel", "k").jit().threshold());
        var e = assertThrows(UsageException.class, () -> parse("-accel", "tcg,jit-threshold=many", "-kernel", "k"));
        assertTrue(e.getMessage().contains("jit-threshold"), e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("-accel", "kvm,jit=on", "-kernel", "k"));
        assertTrue(e.getMessage().contains("tcg"), e.getMessage());
        assertThrows(UsageException.class, () -> parse("-accel", "tcg,jit=sometimes", "-kernel", "k"));
        assertEquals(JitOptions.DEFAULT_BURST, eager.burst());
        assertEquals(0, parse("-accel", "tcg,jit-burst=0", "-kernel", "k").jit().burst());
        assertEquals(250, parse("-accel", "tcg,jit-burst=250,jit-threshold=9", "-kernel", "k").jit().burst());
        e = assertThrows(UsageException.class, () -> parse("-accel", "tcg,jit-burst=-1", "-kernel", "k"));
        assertTrue(e.getMessage().contains("jit-burst"), e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("-accel", "kvm,jit-burst=5", "-kernel", "k"));
        assertTrue(e.getMessage().contains("tcg"), e.getMessage());
        assertEquals(JitOptions.DEFAULT_STEADY, eager.steady());
        assertEquals(0, parse("-accel", "tcg,jit-steady=0", "-kernel", "k").jit().steady());
        assertEquals(100, parse("-accel", "tcg,jit-steady=100", "-kernel", "k").jit().steady());
        e = assertThrows(UsageException.class, () -> parse("-accel", "tcg,jit-steady=-3", "-kernel", "k"));
        assertTrue(e.getMessage().contains("jit-steady"), e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("-accel", "kvm,jit-steady=5", "-kernel", "k"));
        assertTrue(e.getMessage().contains("tcg"), e.getMessage());
    }

    @Test
    void debugExitDefaultsAreQemus() throws UsageException {
        var d = parse("-device", "isa-debug-exit", "-kernel", "k").debugExits().get(0);
        assertEquals(0x501, d.iobase());
        assertEquals(2, d.iosize());
        var e = assertThrows(UsageException.class, () -> parse("-device", "isa-debug-exit,iobase=0xfffff", "-kernel", "k"));
        assertTrue(e.getMessage().contains("iobase"), e.getMessage());
        e = assertThrows(UsageException.class, () -> parse("-device", "isa-debug-exit,size=4", "-kernel", "k"));
        assertTrue(e.getMessage().contains("unknown property 'size'"), e.getMessage());
    }

    @Test
    void helpAndVersionNeedNoKernel() throws UsageException {
        assertInstanceOf(CommandLine.Action.Help.class, CommandLine.parse(new String[] {"--help"}));
        assertInstanceOf(CommandLine.Action.Version.class, CommandLine.parse(new String[] {"-version"}));
    }

    @Test
    void drivesTakeQcow2ProbingAndSnapshot() throws UsageException {
        MachineConfig c = parse("-kernel", "k", "-drive", "file=a.qcow2,format=qcow2,if=virtio",
            "-drive", "file=b.img,if=virtio,snapshot=on", "-drive", "file=c.img,format=raw,if=virtio");
        assertEquals("qcow2", c.drives().get(0).format());
        assertEquals(null, c.drives().get(1).format(), "no format=: probed at open, as QEMU does");
        assertEquals(java.util.List.of(false, true, false), c.drives().stream().map(MachineConfig.DriveConfig::snapshot).toList());
        MachineConfig all = parse("-snapshot", "-kernel", "k", "-drive", "file=a.qcow2,if=virtio");
        assertTrue(all.drives().get(0).snapshot(), "-snapshot applies to every drive");
        UsageException e = assertThrows(UsageException.class,
            () -> parse("-kernel", "k", "-drive", "file=a.vmdk,format=vmdk,if=virtio"));
        assertEquals("-drive: format=vmdk is not supported (raw or qcow2)", e.getMessage());
    }

    /** QEMU's discard= of -drive and -blockdev: ignore (the default) or off, unmap or on. */
    @Test
    void drivesAndBlockdevNodesTakeQemusDiscard() throws UsageException {
        MachineConfig c = parse("-kernel", "k", "-drive", "file=a.qcow2,if=virtio", "-drive", "file=b.img,discard=unmap",
            "-drive", "file=c.img,discard=on", "-drive", "file=d.img,discard=off", "-drive", "file=e.img,if=ide,discard=unmap",
            "-blockdev", "driver=file,node-name=f,filename=/f.img,discard=unmap",
            "-blockdev", "driver=qcow2,node-name=q,file=f,discard=unmap", "-device", "virtio-blk-pci,drive=q",
            "-blockdev", "driver=file,node-name=g,filename=/g.img,discard=unmap",
            "-blockdev", "driver=raw,node-name=r,file=g", "-device", "virtio-blk-pci,drive=r");
        java.util.Map<String, String> byFile = new java.util.TreeMap<>();
        for (MachineConfig.DriveConfig d : c.drives()) {
            byFile.put(d.file().getFileName().toString(), d.discard());
        }
        // a format node decides for its drive: libvirt always gives the file node unmap, the format node its own
        assertEquals(java.util.Map.of("a.qcow2", "ignore", "b.img", "unmap", "c.img", "unmap", "d.img", "ignore",
            "e.img", "unmap", "f.img", "unmap", "g.img", "ignore"), byFile);
        UsageException e = assertThrows(UsageException.class, () -> parse("-kernel", "k", "-drive", "file=a.img,discard=trim"));
        assertEquals("-drive: discard=trim (expected ignore, off, unmap or on)", e.getMessage());
    }

    @Test
    void ideDrivesTakeQemusIndexesNamesAndMedia() throws UsageException {
        MachineConfig c = parse("-hdb", "b.img", "-cdrom", "cd.iso", "-drive", "file=x.qcow2,if=ide",
            "-drive", "file=y.img,if=ide,media=disk,format=raw,readonly=on");
        assertEquals(java.util.List.of(
            new MachineConfig.IdeDriveConfig("ide0-hd1", 1, MachineConfig.IdeDriveConfig.Media.DISK),
            new MachineConfig.IdeDriveConfig("ide1-cd0", 2, MachineConfig.IdeDriveConfig.Media.CDROM),
            new MachineConfig.IdeDriveConfig("ide0-hd0", 0, MachineConfig.IdeDriveConfig.Media.DISK),
            new MachineConfig.IdeDriveConfig("ide1-hd1", 3, MachineConfig.IdeDriveConfig.Media.DISK)), c.ideDrives());
        assertEquals(java.util.List.of(false, true, false, true),
            c.drives().stream().map(MachineConfig.DriveConfig::readOnly).toList(), "a CD-ROM is read-only");
        assertTrue(c.drives().stream().noneMatch(MachineConfig.DriveConfig::ifVirtio));
        assertTrue(c.virtioDevices().isEmpty());
        assertEquals("-drive: drive with bus=0, unit=0 (index=0) exists",
            assertThrows(UsageException.class, () -> parse("-hda", "a", "-drive", "file=b,if=ide,index=0")).getMessage());
        assertEquals("-drive: index=4 is out of range (the IDE controller has 0-3)",
            assertThrows(UsageException.class, () -> parse("-drive", "file=b,if=ide,index=4")).getMessage());
        assertEquals("-drive: the IDE controller has four drives (index 0-3), all taken",
            assertThrows(UsageException.class, () -> parse("-hda", "a", "-hdb", "b", "-hdc", "c", "-hdd", "d",
                "-drive", "file=e,if=ide")).getMessage());
        assertEquals("-drive: media=tape (expected disk or cdrom)",
            assertThrows(UsageException.class, () -> parse("-drive", "file=b,if=ide,media=tape")).getMessage());
        assertEquals("-drive: index= is for if=ide drives",
            assertThrows(UsageException.class, () -> parse("-drive", "file=b,if=virtio,index=1")).getMessage());
        assertEquals("-drive if=ide: the microvm machine has no IDE controller (use if=virtio)",
            assertThrows(UsageException.class, () -> parse("-M", "microvm", "-kernel", "k", "-hda", "a")).getMessage());
        assertTrue(parse("-snapshot", "-hda", "a").drives().get(0).snapshot(), "-snapshot covers IDE drives too");
    }

    @Test
    void onQ35IdeDrivesGoToTheAhciPortsAsOnQemu() throws UsageException {
        MachineConfig c = parse("-M", "q35", "-kernel", "k", "-hda", "a", "-cdrom", "cd.iso", "-drive", "file=x,if=ide",
            "-drive", "file=y,if=ide,index=5");
        assertEquals(java.util.List.of(
            new MachineConfig.IdeDriveConfig("ide0-hd0", 0, MachineConfig.IdeDriveConfig.Media.DISK),
            new MachineConfig.IdeDriveConfig("ide2-cd0", 2, MachineConfig.IdeDriveConfig.Media.CDROM),
            new MachineConfig.IdeDriveConfig("ide1-hd0", 1, MachineConfig.IdeDriveConfig.Media.DISK),
            new MachineConfig.IdeDriveConfig("ide5-hd0", 5, MachineConfig.IdeDriveConfig.Media.DISK)), c.ideDrives());
        // -M after the drives counts too
        assertEquals("ide2-cd0", parse("-cdrom", "cd.iso", "-kernel", "k", "-M", "q35").ideDrives().get(0).driveId());
        assertEquals("-drive: index=6 is out of range (the AHCI controller has 0-5)",
            assertThrows(UsageException.class, () -> parse("-M", "q35", "-kernel", "k", "-drive", "file=b,if=ide,index=6"))
                .getMessage());
        MachineConfig d = parse("-M", "q35", "-kernel", "k", "-drive", "file=b,if=none,id=b",
            "-device", "ide-cd,drive=b,bus=ide.4");
        assertEquals(java.util.List.of(new MachineConfig.IdeDriveConfig("b", 4, MachineConfig.IdeDriveConfig.Media.CDROM)),
            d.ideDrives());
        assertEquals("-device ide-hd,drive=b: unit=1 does not exist (an AHCI port has one device, unit 0)",
            assertThrows(UsageException.class, () -> parse("-M", "q35", "-kernel", "k", "-drive", "file=b,if=none,id=b",
                "-device", "ide-hd,drive=b,bus=ide.1,unit=1")).getMessage());
        assertEquals("-device ide-hd: Bus 'ide.3' not found (the IDE buses are ide.0 and ide.1)",
            assertThrows(UsageException.class, () -> parse("-drive", "file=b,if=none,id=b",
                "-device", "ide-hd,drive=b,bus=ide.3")).getMessage());
    }

    @Test
    void deviceAhciAddsAControllerWithItsOwnBuses() throws UsageException {
        MachineConfig c = parse("-drive", "file=a,if=none,id=a", "-drive", "file=b,if=none,id=b",
            "-device", "ahci,id=sata0,addr=0x5", "-device", "ide-hd,drive=a,bus=sata0.0",
            "-device", "ide-cd,drive=b,bus=sata0.3");
        assertEquals(java.util.List.of(new MachineConfig.AhciConfig("sata0", 5, java.util.List.of(
            new MachineConfig.IdeDriveConfig("a", 0, MachineConfig.IdeDriveConfig.Media.DISK),
            new MachineConfig.IdeDriveConfig("b", 3, MachineConfig.IdeDriveConfig.Media.CDROM)))), c.ahciControllers());
        assertTrue(c.ideDrives().isEmpty(), "nothing on the pc machine's PIIX3");
        assertEquals("-device ide-hd: Bus 'sata1.0' not found (no -device ahci,id=sata1)",
            assertThrows(UsageException.class, () -> parse("-drive", "file=a,if=none,id=a",
                "-device", "ide-hd,drive=a,bus=sata1.0")).getMessage());
        assertEquals("-device ide-hd,drive=b: port 0 of sata0 is taken",
            assertThrows(UsageException.class, () -> parse("-drive", "file=a,if=none,id=a", "-drive", "file=b,if=none,id=b",
                "-device", "ahci,id=sata0", "-device", "ide-hd,drive=a,bus=sata0.0", "-device", "ide-hd,drive=b,bus=sata0.0"))
                .getMessage());
    }

    @Test
    void withoutKernelTheMachineBootsFirmwareAsBiosAndBootSay() throws UsageException {
        MachineConfig plain = parse("-drive", "file=d.img,format=raw,if=virtio");
        assertTrue(plain.bootsFirmware());
        assertEquals(MachineConfig.Firmware.DEFAULT, plain.firmware());
        MachineConfig c = parse("-bios", "/x/bios.bin", "-boot", "order=dc,menu=on,splash-time=500,reboot-timeout=1000");
        assertEquals(new MachineConfig.Firmware(Path.of("/x/bios.bin"), "dc", true, 500, 1000), c.firmware());
        assertEquals("c", parse("-boot", "c").firmware().bootOrder(), "QEMU's legacy -boot c");
        assertEquals("n", parse("-boot", "once=n").firmware().bootOrder());
        assertFalse(parse("-kernel", "k").bootsFirmware());
        assertEquals("-boot: order='cz9' is not a list of drive letters (c disk, d CD-ROM, n network)",
            assertThrows(UsageException.class, () -> parse("-boot", "order=cz9")).getMessage());
        assertEquals("-boot: splash-time='-5' is not a time in ms (0-65535)",
            assertThrows(UsageException.class, () -> parse("-boot", "splash-time=-5")).getMessage());
        assertTrue(assertThrows(UsageException.class, () -> parse("-boot", "menu=on,frob=1")).getMessage()
            .contains("unknown property 'frob'"));
        assertEquals("-initrd needs -kernel", assertThrows(UsageException.class, () -> parse("-initrd", "i")).getMessage());
        assertTrue(assertThrows(UsageException.class, () -> parse("-M", "microvm")).getMessage()
            .startsWith("-machine microvm boots a kernel directly"));
    }
}
