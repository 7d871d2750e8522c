package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;

/** -object iothread and iothread= on virtio-blk, in QEMU's spelling, and what is refused. */
class IoThreadOptionsTest {
    private static MachineConfig parse(String... args) throws UsageException {
        return ((CommandLine.Action.Run) CommandLine.parse(args)).config();
    }

    private static String refused(String... args) {
        return assertThrows(UsageException.class, () -> parse(args)).getMessage();
    }

    @Test
    void iothreadsKeepQemusDefaultsAndDevicesNameThem() throws UsageException {
        MachineConfig c = parse("-kernel", "k", "-object", "iothread,id=io0", "-object",
            "iothread,id=io1,poll-max-ns=0", "-object", "{\"qom-type\": \"iothread\", \"id\": \"io2\", \"poll-max-ns\": 100000, "
                + "\"poll-grow\": 4, \"poll-shrink\": 2}",
            "-drive", "id=d0,file=a.img,format=raw,if=none", "-device", "virtio-blk-pci,drive=d0,iothread=io0",
            "-drive", "id=d1,file=b.img,format=raw,if=none", "-device", "virtio-blk-pci,drive=d1,iothread=io0");
        assertEquals(List.of(new MachineConfig.IoThreadConfig("io0", 32768, 0, 0),
            new MachineConfig.IoThreadConfig("io1", 0, 0, 0), new MachineConfig.IoThreadConfig("io2", 100000, 4, 2)), c.ioThreads());
        assertEquals(List.of(new MachineConfig.VirtioDeviceConfig.VirtioBlk("d0", MachineConfig.Transport.PCI, "io0"),
            new MachineConfig.VirtioDeviceConfig.VirtioBlk("d1", MachineConfig.Transport.PCI, "io0")), c.virtioDevices(),
            "two devices share one iothread");
        MachineConfig microvm = parse("-kernel", "k", "-M", "microvm", "-object", "iothread,id=io0",
            "-drive", "id=d0,file=a.img,format=raw,if=none", "-device", "virtio-blk-device,drive=d0,iothread=io0");
        assertEquals("io0", ((MachineConfig.VirtioDeviceConfig.VirtioBlk) microvm.virtioDevices().get(0)).iothread());
    }

    @Test
    void badInputIsRefusedClearly() {
        assertEquals("-device virtio-blk-pci: Property 'virtio-blk-pci.iothread' can't find value 'nope' "
            + "(give -object iothread,id=nope)", refused("-kernel", "k", "-drive", "id=d0,file=a.img,format=raw,if=none",
            "-device", "virtio-blk-pci,drive=d0,iothread=nope"));
        assertEquals("-device virtio-rng-pci: iothread= is supported on virtio-blk-pci and virtio-blk-device only "
            + "(jvisor's other devices are served on their own threads)",
            refused("-kernel", "k", "-object", "iothread,id=io0", "-device", "virtio-rng-pci,iothread=io0"));
        assertEquals("-device virtio-net-pci: iothread= is supported on virtio-blk-pci and virtio-blk-device only "
            + "(jvisor's other devices are served on their own threads)",
            refused("-kernel", "k", "-object", "iothread,id=io0", "-netdev", "user,id=n", "-device", "virtio-net-pci,netdev=n,iothread=io0"));
        assertEquals("-object iothread,id=io0: poll-max-ns value must be in range [0, 9223372036854775807]",
            refused("-kernel", "k", "-object", "iothread,id=io0,poll-max-ns=-1"));
        assertEquals("-object iothread,id=io0: Parameter 'poll-grow' expects an integer",
            refused("-kernel", "k", "-object", "iothread,id=io0,poll-grow=fast"));
        assertEquals("-object iothread,id=io0: aio-max-batch is not supported (jvisor's block requests are synchronous; 0 only)",
            refused("-kernel", "k", "-object", "iothread,id=io0,aio-max-batch=8"));
        assertEquals("-object iothread: attempt to add duplicate property 'io0' to object",
            refused("-kernel", "k", "-object", "iothread,id=io0", "-object", "iothread,id=io0"));
    }
}
