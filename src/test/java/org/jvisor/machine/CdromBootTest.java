package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.RequiredTools;

/**
 * SeaBIOS boots an El Torito CD from the ATAPI CD-ROM (-cdrom, -boot d; on pc and q35): it reads the boot record
 * volume descriptor and the boot catalog through READ(10) packets, loads the no-emulation boot
 * image at 0x7C00 and runs it; the image prints a line on COM1 and leaves through isa-debug-exit.
 * QEMU 7.2 boots the same image the same way.
 */
@GuestTest
class CdromBootTest {
    private static final String MESSAGE = "CD-BOOT-OK";
    private static final int EXIT_STATUS = (0x10 << 1) | 1;

    @TempDir
    Path dir;

    /**
     * 16-bit code loaded at linear 0x7C00 (SeaBIOS enters it as 0000:7C00, QEMU's too): DS = CS,
     * the message found relative to IP, printed with a newline on COM1 (0x3F8); then 0x10 to
     * isa-debug-exit (0xF4) and halt.
     */
    private static byte[] bootCode() {
        byte[] msg = (MESSAGE + "\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] code = {
            0x0E, 0x1F,                         // push cs; pop ds
            (byte) 0xE8, 0x00, 0x00,            // call next
            0x5E,                               // next: pop si
            (byte) 0x83, (byte) 0xC6, 22,       // add si, msg - next
            (byte) 0xBA, (byte) 0xF8, 0x03,     // mov dx, 0x3f8
            (byte) 0xAC,                        // loop: lodsb
            (byte) 0x84, (byte) 0xC0,           // test al, al
            0x74, 0x03,                         // jz done
            (byte) 0xEE,                        // out dx, al
            (byte) 0xEB, (byte) 0xF8,           // jmp loop
            (byte) 0xB0, 0x10,                  // done: mov al, 0x10
            (byte) 0xE6, (byte) 0xF4,           // out 0xf4, al
            (byte) 0xF4,                        // hlt
            (byte) 0xEB, (byte) 0xFD,           // jmp hlt
        };
        byte[] image = new byte[2048];
        System.arraycopy(code, 0, image, 0, code.length);
        System.arraycopy(msg, 0, image, code.length, msg.length); // at 27 = 5 + 22
        return image;
    }

    /**
     * An ISO 9660 image with an El Torito boot record (ECMA-119 8.2, El Torito 1.0): volume
     * descriptors from block 16 (primary, boot record, terminator), the boot catalog in block 20
     * (validation entry and a bootable no-emulation default entry) and the boot image in block 21.
     */
    static byte[] elTorito(byte[] bootImage) {
        int block = 2048;
        byte[] iso = new byte[24 * block];
        // primary volume descriptor (enough of it to be recognised)
        int pvd = 16 * block;
        iso[pvd] = 1;
        ascii(iso, pvd + 1, "CD001");
        iso[pvd + 6] = 1;
        le32be32(iso, pvd + 80, 24);            // volume space size
        // boot record volume descriptor
        int brvd = 17 * block;
        iso[brvd] = 0;
        ascii(iso, brvd + 1, "CD001");
        iso[brvd + 6] = 1;
        ascii(iso, brvd + 7, "EL TORITO SPECIFICATION");
        le32(iso, brvd + 0x47, 20);             // boot catalog block
        // terminator
        int term = 18 * block;
        iso[term] = (byte) 0xFF;
        ascii(iso, term + 1, "CD001");
        iso[term + 6] = 1;
        // boot catalog: validation entry (its 16-bit words sum to 0), then the default entry
        int cat = 20 * block;
        iso[cat] = 1;                           // header id
        iso[cat + 0x1E] = 0x55;
        iso[cat + 0x1F] = (byte) 0xAA;
        int sum = 0;
        for (int i = 0; i < 32; i += 2) {
            sum += (iso[cat + i] & 0xFF) | (iso[cat + i + 1] & 0xFF) << 8;
        }
        int check = -sum & 0xFFFF;
        iso[cat + 0x1C] = (byte) check;
        iso[cat + 0x1D] = (byte) (check >> 8);
        iso[cat + 0x20] = (byte) 0x88;          // bootable
        iso[cat + 0x21] = 0;                    // no emulation
        iso[cat + 0x26] = 4;                    // four 512-byte sectors
        le32(iso, cat + 0x28, 21);              // the boot image's block
        System.arraycopy(bootImage, 0, iso, 21 * block, bootImage.length);
        return iso;
    }

    private static void ascii(byte[] b, int at, String s) {
        byte[] a = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(a, 0, b, at, a.length);
    }

    private static void le32(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    private static void le32be32(byte[] b, int at, int v) {
        le32(b, at, v);
        for (int i = 0; i < 4; i++) {
            b[at + 4 + i] = (byte) (v >>> (24 - 8 * i));
        }
    }

    private Path image() throws Exception {
        Path iso = dir.resolve("boot.iso");
        Files.write(iso, elTorito(bootCode()));
        return iso;
    }

    /** A boot that fails makes SeaBIOS reset at once, which -no-reboot turns into an exit: no hang. */
    private static final List<String> OPTIONS = List.of("-m", "128M", "-nographic", "-boot", "order=d,reboot-timeout=0",
        "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04");

    /** On pc the CD is the PIIX3's secondary master; on q35 port 2 of the ICH9 AHCI, which SeaBIOS's AHCI driver reads. */
    @ParameterizedTest(name = "-M {0}")
    @ValueSource(strings = {"pc", "q35"})
    void seabiosBootsAnElToritoCdFromTheAtapiDrive(String machine) throws Exception {
        Path iso = image();
        String[] args = java.util.stream.Stream.concat(java.util.stream.Stream.of("-accel", "tcg", "-M", machine),
            java.util.stream.Stream.concat(OPTIONS.stream(), java.util.stream.Stream.of("-cdrom", iso.toString())))
            .toArray(String[]::new);
        JvisorProcess.Result r = JvisorProcess.run(args);
        assertTrue(r.stdout().contains("Booting from DVD/CD"), r.toString());
        assertTrue(printedByTheBootCode(r.stdout()), r.toString());
        assertEquals(EXIT_STATUS, r.status(), r.toString());
    }

    @Test
    void qemuBootsTheSameCd() throws Exception {
        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        RequiredTools.assume(Files.isExecutable(qemu), "qemu-system-x86_64 not installed: no reference run");
        Path iso = image();
        List<String> cmd = new java.util.ArrayList<>(List.of(qemu.toString(), "-accel", "tcg"));
        cmd.addAll(OPTIONS);
        cmd.addAll(List.of("-cdrom", iso.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "hang guard");
        assertTrue(printedByTheBootCode(out), out);
        assertEquals(EXIT_STATUS, p.exitValue(), out);
    }

    /**
     * Whether the boot code's message came out after SeaBIOS's "Booting from DVD/CD...". SeaBIOS
     * draws its screen on the serial port lazily (sercon) and may still owe the line's last dots
     * and its newline when the boot code, writing COM1 directly, starts: a CI run printed
     * "Booting from DVD/CD..C.\nD-BOOT-OK". So what SeaBIOS can still owe there is left out.
     */
    private static boolean printedByTheBootCode(String out) {
        int at = out.indexOf("Booting from DVD/CD");
        return at >= 0 && out.substring(at).replaceAll("[.\r\n]", "").contains(MESSAGE);
    }
}
