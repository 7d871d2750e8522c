package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;
import org.jvisor.config.MachineConfig.MemoryBackendConfig;

/** -object memory-backend-*, -machine memory-backend=, -chardev socket clients and -device vhost-user-blk-*. */
class VhostUserOptionsTest {
    private static MachineConfig parse(String... args) throws UsageException {
        String[] all = new String[args.length + 2];
        all[0] = "-kernel";
        all[1] = "k";
        System.arraycopy(args, 0, all, 2, args.length);
        return ((CommandLine.Action.Run) CommandLine.parse(all)).config();
    }

    private static String error(String... args) {
        return assertThrows(UsageException.class, () -> parse(args)).getMessage();
    }

    @Test
    void ramFromAMemfdTakesItsSizeWhenMIsNotGiven() throws UsageException {
        MachineConfig c = parse("-object", "memory-backend-memfd,id=mem,size=256M", "-machine", "memory-backend=mem");
        assertEquals(256L << 20, c.memoryBytes());
        assertEquals(new MemoryBackendConfig.Memfd("mem", 256L << 20, true, true), c.memoryBackend());
        MachineConfig f = parse("-m", "1G", "-object", "memory-backend-file,id=m,size=1G,mem-path=/dev/shm,share=on",
            "-numa", "node,memdev=m");
        assertEquals(new MemoryBackendConfig.File("m", 1L << 30, Path.of("/dev/shm"), true), f.memoryBackend());
        assertNull(parse("-object", "memory-backend-memfd,id=mem,size=256M").memoryBackend(), "an unused backend is not RAM");
        assertEquals(MachineConfig.MachineType.MICROVM,
            parse("-M", "microvm", "-object", "memory-backend-memfd,id=x,size=64M", "-machine", "memory-backend=x").machineType());
    }

    @Test
    void qemusChecksAndMessages() {
        assertTrue(error("-m", "256M", "-object", "memory-backend-memfd,id=mem,size=128M", "-machine", "memory-backend=mem")
            .startsWith("Machine memory size does not match the size of the memory backend"));
        assertEquals("Memory backend 'nope' not found",
            error("-object", "memory-backend-memfd,id=mem,size=128M", "-machine", "memory-backend=nope"));
        assertTrue(error("-object", "memory-backend-memfd,id=a,size=1M", "-object", "memory-backend-memfd,id=a,size=1M")
            .contains("Duplicate ID 'a' for object"));
        assertTrue(error("-object", "memory-backend-memfd,id=a,size=1M,bogus=1").contains("unknown property 'bogus'"));
        assertTrue(error("-object", "memory-backend-file,id=a,size=1M").contains("'mem-path' is required"));
        assertTrue(error("-object", "memory-backend-memfd,id=a").contains("size 0"));
        assertTrue(error("-object", "memory-backend-memfd,id=a,size=1000").contains("page size"));
        assertTrue(error("-object", "memory-backend-memfd,id=a,size=1M,hugetlb=on").contains("huge pages"));
        assertTrue(error("-object", "throttle-group,id=t0").contains("not an object type jvisor has"));
    }

    @Test
    void vhostUserBlkTakesASocketClient() throws UsageException {
        MachineConfig c = parse("-chardev", "socket,id=c,path=/run/vu.sock,reconnect=2",
            "-device", "vhost-user-blk-pci,chardev=c,num-queues=2,config-wce=off");
        assertEquals(new MachineConfig.ChardevConfig.SocketClient("c", Path.of("/run/vu.sock"), 2), c.chardevs().get(0));
        assertEquals(new MachineConfig.VirtioDeviceConfig.VhostUserBlk("c", 2, 128, false, MachineConfig.Transport.PCI),
            c.virtioDevices().get(0));
        MachineConfig m = parse("-M", "microvm", "-chardev", "socket,id=c,path=/s", "-device", "vhost-user-blk-device,chardev=c");
        assertEquals(MachineConfig.Transport.MMIO, m.virtioDevices().get(0).transport());
        assertEquals("vhost-user-blk-device", m.virtioDevices().get(0).qemuName());
    }

    @Test
    void vhostUserBlkMisuseIsNamed() {
        assertTrue(error("-device", "vhost-user-blk-pci").contains("chardev is mandatory"));
        assertTrue(error("-device", "vhost-user-blk-pci,chardev=c").contains("no -chardev with id 'c'"));
        assertTrue(error("-chardev", "socket,id=c,path=/s,server=on,wait=off", "-device", "vhost-user-blk-pci,chardev=c")
            .contains("must be a socket client"));
        assertTrue(error("-chardev", "socket,id=c,path=/s", "-device", "virtio-serial-pci", "-device", "virtconsole,chardev=c")
            .contains("only vhost-user devices use"));
        assertTrue(error("-chardev", "socket,id=c,path=/s,server=on,reconnect=1").contains("incompatible"));
        assertTrue(error("-chardev", "socket,id=c,path=/s", "-device", "vhost-user-blk-pci,chardev=c,queue-size=100")
            .contains("power of 2"));
        assertTrue(error("-chardev", "socket,id=c,path=/s", "-device", "vhost-user-blk-pci,chardev=c,num-queues=0")
            .contains("out of range"));
        assertTrue(error("-chardev", "socket,id=c,path=/s", "-device", "vhost-user-blk-device,chardev=c")
            .contains("use vhost-user-blk-pci"));
    }

    @Test
    void vhostUserFsTakesATag() throws UsageException {
        MachineConfig c = parse("-chardev", "socket,id=fs,path=/run/fs.sock", "-device", "vhost-user-fs-pci,chardev=fs,tag=share");
        assertEquals(new MachineConfig.VirtioDeviceConfig.VhostUserFs("fs", "share", 1, 128, MachineConfig.Transport.PCI),
            c.virtioDevices().get(0));
        assertTrue(error("-chardev", "socket,id=fs,path=/s", "-device", "vhost-user-fs-pci,chardev=fs").contains("missing tag"));
        assertTrue(error("-chardev", "socket,id=fs,path=/s", "-device", "vhost-user-fs-pci,chardev=fs,tag="
            + "x".repeat(37)).contains("36 bytes or less"));
        assertTrue(error("-device", "vhost-user-fs-pci,tag=t").contains("missing chardev"));
    }
}
