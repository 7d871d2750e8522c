package org.jvisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;
import org.jvisor.config.MachineConfig.ChardevConfig;
import org.jvisor.config.MachineConfig.Transport;
import org.jvisor.config.MachineConfig.VirtioDeviceConfig;
import org.jvisor.config.MachineConfig.SerialConfig;
import org.jvisor.config.MachineConfig.VirtioSerialPortConfig;

/** -chardev and the virtio-serial devices in QEMU's spelling, and the errors QEMU gives too. */
class ChardevOptionsTest {

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
    void backendsInQemuSpelling() throws UsageException {
        MachineConfig c = parse("-chardev", "socket,id=s,path=/tmp/s.sock,server=on,wait=off",
            "-chardev", "file,id=f,path=/tmp/out", "-chardev", "null,id=n", "-chardev", "stdio,id=io,signal=off",
            "-chardev", "socket,id=w,path=/tmp/w.sock,server=on");
        assertEquals(List.of(new ChardevConfig.Socket("s", Path.of("/tmp/s.sock"), false),
            new ChardevConfig.File("f", Path.of("/tmp/out"), false), new ChardevConfig.Null("n"),
            new ChardevConfig.Stdio("io"), new ChardevConfig.Socket("w", Path.of("/tmp/w.sock"), true)), c.chardevs());
        assertInstanceOf(SerialConfig.None.class, c.serial(), "stdio went to the chardev: COM1 defaults to none");
        assertTrue(c.usesStdio());
    }

    @Test
    void portsGetQemusNumbers() throws UsageException {
        MachineConfig c = parse("-device", "virtio-serial-pci", "-device", "virtserialport,chardev=a,name=org.x",
            "-device", "virtconsole,chardev=b", "-device", "virtconsole,chardev=c", "-device", "virtserialport,chardev=d,nr=7",
            "-chardev", "null,id=a", "-chardev", "null,id=b", "-chardev", "null,id=c", "-chardev", "null,id=d");
        var serial = (VirtioDeviceConfig.VirtioSerial) c.virtioDevices().get(0);
        assertEquals(Transport.PCI, serial.transport());
        assertEquals(31, serial.maxPorts());
        assertEquals(List.of(new VirtioSerialPortConfig(0, true, "b", null), new VirtioSerialPortConfig(1, false, "a", "org.x"),
            new VirtioSerialPortConfig(2, true, "c", null), new VirtioSerialPortConfig(7, false, "d", null)), serial.ports());
        assertInstanceOf(SerialConfig.Stdio.class, c.serial());
    }

    @Test
    void onMicrovmTheControllerIsAVirtioMmioDevice() throws UsageException {
        MachineConfig c = parse("-M", "microvm", "-device", "virtio-serial-device,max_ports=2",
            "-device", "virtconsole,chardev=a", "-chardev", "null,id=a");
        assertEquals(new VirtioDeviceConfig.VirtioSerial(2, List.of(new VirtioSerialPortConfig(0, true, "a", null)), Transport.MMIO),
            c.virtioDevices().get(0));
        assertTrue(error("-M", "microvm", "-device", "virtio-serial-pci").contains("use virtio-serial-device"));
    }

    @Test
    void serialOnAChardev() throws UsageException {
        MachineConfig c = parse("-serial", "chardev:s", "-chardev", "socket,id=s,path=/tmp/s,server=on,wait=off");
        assertEquals(new SerialConfig.Chardev("s"), c.serial());
        assertTrue(error("-serial", "chardev:nope").contains("-serial: no -chardev with id 'nope'"));
    }

    @Test
    void clearErrors() {
        assertTrue(error("-chardev", "null,id=a", "-chardev", "file,id=a,path=x").contains("duplicate id 'a'"));
        assertTrue(error("-chardev", "null").contains("id=ID is required"));
        assertTrue(error("-chardev", "spicevmc,id=p").contains("'spicevmc' is not a character device backend"));
        assertTrue(error("-chardev", "socket,id=s,host=localhost,port=4444,server=on").contains("only supported for a QMP monitor"));
        assertTrue(error("-chardev", "socket,id=s,path=/tmp/s").contains("only server=on"));
        assertTrue(error("-chardev", "socket,id=s,path=/tmp/s,server=on,wait=maybe").contains("wait='maybe'"));
        assertTrue(error("-device", "virtconsole,chardev=c", "-chardev", "null,id=c")
            .contains("no virtio-serial bus (give -device virtio-serial-pci"));
        assertTrue(error("-device", "virtio-serial-pci", "-device", "virtconsole,chardev=nope")
            .contains("-device virtconsole: no -chardev with id 'nope'"));
        assertTrue(error("-device", "virtio-serial-pci", "-device", "virtconsole").contains("chardev=ID is required"));
        assertTrue(error("-chardev", "null,id=c", "-device", "virtio-serial-pci", "-device", "virtconsole,chardev=c",
            "-device", "virtserialport,chardev=c").contains("chardev 'c' is already in use by -device virtconsole"));
        assertTrue(error("-chardev", "null,id=c", "-serial", "chardev:c", "-device", "virtio-serial-pci",
            "-device", "virtconsole,chardev=c").contains("already in use"));
        assertTrue(error("-chardev", "stdio,id=c", "-serial", "stdio").contains("stdio is already the serial port's"));
        assertTrue(error("-nographic", "-chardev", "stdio,id=c").contains("stdio is already the serial port's"));
        assertTrue(error("-chardev", "stdio,id=a", "-chardev", "stdio,id=b").contains("stdio can have one user"));
        assertTrue(error("-chardev", "null,id=a", "-chardev", "null,id=b", "-device", "virtio-serial-pci",
            "-device", "virtserialport,chardev=a,name=x", "-device", "virtserialport,chardev=b,name=x")
            .contains("a port named 'x' already exists"));
        assertTrue(error("-chardev", "null,id=a", "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=a,nr=0")
            .contains("port 0 is reserved for a virtconsole"));
        assertTrue(error("-chardev", "null,id=a", "-chardev", "null,id=b", "-device", "virtio-serial-pci,max_ports=1",
            "-device", "virtconsole,chardev=a", "-device", "virtconsole,chardev=b").contains("every virtio-serial is full"));
        assertTrue(error("-device", "virtio-serial-pci,max_ports=0").contains("max_ports=0 is out of range"));
    }
}
