package org.jvisor.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a -bios file must be, checked against the firmware images Debian installs. */
class FirmwareImageTest {
    @TempDir
    Path dir;

    /** A 64 KiB image whose last 16 bytes are {@code tail} (hex), padded with 0xFF as erased flash. */
    private Path image(String name, String tail) throws Exception {
        byte[] b = new byte[64 << 10];
        java.util.Arrays.fill(b, (byte) 0xFF);
        byte[] t = HexFormat.of().parseHex(tail);
        System.arraycopy(t, 0, b, b.length - FirmwareImage.RESET_VECTOR, t.length);
        Path p = dir.resolve(name);
        Files.write(p, b);
        return p;
    }

    private String refused(Path p) {
        return assertThrows(BootException.class, () -> FirmwareImage.read(p, FirmwareImage.DEFAULT)).getMessage();
    }

    @Test
    void debiansSeabiosAndOvmfImagesPass() throws Exception {
        List<Path> found = new ArrayList<>();
        for (String f : List.of("/usr/share/seabios/bios.bin", "/usr/share/seabios/bios-256k.bin",
                "/usr/share/seabios/bios-microvm.bin", "/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF_CODE.fd",
                "/usr/share/OVMF/OVMF_CODE_4M.fd")) {
            Path p = Path.of(f);
            if (Files.isRegularFile(p)) {
                byte[] b = Files.readAllBytes(p);
                if (b.length % (64 << 10) == 0) {
                    assertEquals(p, FirmwareImage.read(p, FirmwareImage.DEFAULT).path());
                    found.add(p);
                }
            }
        }
        // the build host has seabios (the firmware boots need it); OVMF only where installed
        assertTrue(found.contains(Path.of("/usr/share/seabios/bios-256k.bin")), "checked: " + found);
    }

    @Test
    void theResetVectorsFirmwareUsesPass() throws Exception {
        // SeaBIOS: jmp f000:e05b
        assertEquals(64 << 10, FirmwareImage.read(image("seabios.bin", "ea5be000f0"), null).bytes().length);
        // OVMF 4M: nop nop jmp rel16
        FirmwareImage.read(image("ovmf4m.fd", "9090e95bff"), null);
        // OVMF.fd: mov eax,cr0; test al,1; jz +5; jmp rel16
        FirmwareImage.read(image("ovmf.fd", "0f20c0a8017405e928ff"), null);
        // jmp short, and a 32-bit far jump after the operand-size prefix that fits
        FirmwareImage.read(image("short.bin", "ebfe"), null);
        FirmwareImage.read(image("far32.bin", "66ea00000000f000"), null);
    }

    @Test
    void aFileWithoutAJumpAtTheResetVectorIsRefusedByName() throws Exception {
        for (String tail : List.of("00000000000000000000000000000000", "ffffffffffffffffffffffffffffffff",
                "48656c6c6f2c20776f726c64210a0a0a",    // text
                "1f2003d5",                              // aarch64 nop
                "90909090909090909090909090909090",      // nops with no jump after them
                "9090909090909090909090909090ea5b")) {   // a far jump cut off at the end of the image
            Path p = image("bad.bin", tail);
            String m = refused(p);
            assertTrue(m.startsWith("-bios " + p + ": not a BIOS image (no x86 jump at its reset vector, offset 0xfff0"),
                tail + ": " + m);
            assertFalse(m.contains("\n"), m);
        }
    }

    @Test
    void theSizeIsCheckedFirst() throws Exception {
        Path odd = dir.resolve("odd.bin");
        Files.write(odd, new byte[1000]);
        assertTrue(refused(odd).contains("not a BIOS image (1000 bytes"), refused(odd));
    }

    @Test
    void aMissingDefaultNamesDebiansPackage() {
        Path missing = dir.resolve("usr/share/seabios/bios-256k.bin");
        String m = assertThrows(BootException.class, () -> FirmwareImage.read(null, missing)).getMessage();
        assertEquals("no firmware to boot from: " + missing + " is missing (install Debian's seabios package: "
            + "apt-get install seabios), or give -bios FILE, or -kernel to boot a kernel directly", m);
        // a missing -bios FILE is the user's file, not the package's
        String given = assertThrows(BootException.class, () -> FirmwareImage.read(missing, FirmwareImage.DEFAULT)).getMessage();
        assertEquals("-bios " + missing + ": no such file", given);
    }

    @Test
    void theDefaultIsTheSeabiosPackagesFileUnlessOverridden() {
        if (System.getProperty(FirmwareImage.DEFAULT_PROPERTY) == null && System.getenv(FirmwareImage.DEFAULT_ENV) == null) {
            assertEquals(FirmwareImage.DEFAULT, FirmwareImage.defaultPath());
        }
    }
}
