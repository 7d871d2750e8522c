package org.jvisor.testing;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A boot sector that reports it ran: 16-bit code that prints through INT 10h (SeaBIOS's serial
 * console, there being no display), then straight to COM1, then ends jvisor through
 * isa-debug-exit (status 33) where the machine has one, and halts.
 */
public final class ReportingBootSector {
    private ReportingBootSector() {
    }

    public static final String VIA_INT10 = "INT10-OK";
    public static final String VIA_COM1 = "COM1-OK";

    /**
     * The boot sector: real mode at 0000:7C00, as the BIOS leaves it. It prints {@link #VIA_INT10}
     * and {@link #VIA_COM1} and writes 0x10 to port 0xF4 (isa-debug-exit, where there is one), then
     * halts.
     */
    public static byte[] bytes() {
        ByteArrayOutputStream c = new ByteArrayOutputStream();
        c.writeBytes(new byte[] {
            0x31, (byte) 0xC0,                      // 0  xor ax, ax
            (byte) 0x8E, (byte) 0xD8,               // 2  mov ds, ax
            (byte) 0xBE, 46, 0x7C,                  // 4  mov si, 0x7C00 + 46 (first message)
            (byte) 0xFC,                            // 7  cld
            (byte) 0xAC,                            // 8  lodsb
            (byte) 0x84, (byte) 0xC0,               // 9  test al, al
            0x74, 9,                                // 11 jz 22
            (byte) 0xB4, 0x0E,                      // 13 mov ah, 0x0E (teletype output)
            (byte) 0xBB, 0x07, 0x00,                // 15 mov bx, 7
            (byte) 0xCD, 0x10,                      // 18 int 0x10
            (byte) 0xEB, (byte) 0xF2,               // 20 jmp 8
            (byte) 0xBE, 0, 0x7C,                   // 22 mov si, second message (patched below)
            (byte) 0xBA, (byte) 0xF8, 0x03,         // 25 mov dx, 0x3F8
            (byte) 0xAC,                            // 28 lodsb
            (byte) 0x84, (byte) 0xC0,               // 29 test al, al
            0x74, 3,                                // 31 jz 36
            (byte) 0xEE,                            // 33 out dx, al
            (byte) 0xEB, (byte) 0xF8,               // 34 jmp 28
            (byte) 0xBA, (byte) 0xF4, 0x00,         // 36 mov dx, 0xF4 (isa-debug-exit)
            (byte) 0xB0, 0x10,                      // 39 mov al, 0x10: status (0x10 << 1) | 1 = 33
            (byte) 0xEE,                            // 41 out dx, al
            (byte) 0xFA, (byte) 0xF4,               // 42 cli; hlt
            (byte) 0xEB, (byte) 0xFE,               // 44 jmp 44
        });
        // SeaBIOS's serial console sends a character once the next one comes (it may still move
        // the cursor back over it): the space after the message lets the message out
        byte[] first = (VIA_INT10 + " \0").getBytes(StandardCharsets.US_ASCII);
        byte[] second = ("\r\n" + VIA_COM1 + "\r\n\0").getBytes(StandardCharsets.US_ASCII);
        byte[] mbr = new byte[512];
        byte[] code = c.toByteArray();
        System.arraycopy(code, 0, mbr, 0, code.length);
        System.arraycopy(first, 0, mbr, 46, first.length);
        int at = 46 + first.length;
        System.arraycopy(second, 0, mbr, at, second.length);
        mbr[23] = (byte) at;
        mbr[510] = 0x55;
        mbr[511] = (byte) 0xAA;
        return mbr;
    }
}
