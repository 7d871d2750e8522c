package org.jvisor.qmp;

import org.jvisor.api.VirtualMachine;

/**
 * HMP "xp /FMT ADDR" and "x /FMT ADDR": guest-physical memory, or linear memory as the monitor's
 * current vCPU maps it, as QEMU 7.2's memory_dump prints them (checked on the same guest): FMT is [COUNT][FORMAT][SIZE] with FORMAT x (hex), d (signed), u (unsigned),
 * o (octal) or c (characters) and SIZE b, h, w or g (1, 2, 4, 8 bytes); lines of 16 bytes (8 for
 * byte units) headed by the 16-digit address; a line that is not all RAM ends the dump with
 * "Cannot access memory". As in QEMU, a format or size left out is the one used last (x and w at
 * first), and c prints SIZE-wide units' bytes one by one. Disassembly (i) is not supported.
 */
final class MemoryDump {
    private final VirtualMachine vm;
    /** QEMU's default_fmt_format and default_fmt_size: what the last command used. Guarded by this. */
    private char lastFormat = 'x';
    private int lastSize = 4;

    MemoryDump(VirtualMachine vm) {
        this.vm = vm;
    }

    /** Where a dump reads: true when all {@code length} bytes at {@code address} could be read into {@code into}. */
    @FunctionalInterface
    interface Reader {
        boolean read(long address, byte[] into, int length);
    }

    /** xp: guest-physical addresses. */
    String xp(String args) throws HumanMonitor.HmpError {
        return dump("xp", args, vm::readPhysical);
    }

    /** x: linear addresses through vCPU {@code cpu}'s paging (QEMU's monitor uses its current CPU). */
    String x(String args, int cpu) throws HumanMonitor.HmpError {
        return dump("x", args, (address, into, length) -> {
            byte[] buf = length == into.length ? into : new byte[length];
            if (vm.readLinear(cpu, address, buf) < length) {
                return false;
            }
            if (buf != into) {
                System.arraycopy(buf, 0, into, 0, length);
            }
            return true;
        });
    }

    private synchronized String dump(String command, String args, Reader reader) throws HumanMonitor.HmpError {
        int count = 1;
        char format = lastFormat;
        int size = lastSize;
        String rest = args;
        if (rest.startsWith("/")) {
            int i = 1;
            int digits = i;
            while (i < rest.length() && Character.isDigit(rest.charAt(i))) {
                i++;
            }
            if (i > digits) {
                try {
                    count = Integer.parseInt(rest.substring(digits, i));
                } catch (NumberFormatException e) {
                    throw new HumanMonitor.HmpError("jvisor: count too large", false);
                }
            }
            int sizeGiven = -1;
            for (; i < rest.length(); i++) {
                char c = rest.charAt(i);
                switch (c) {
                    case 'o', 'd', 'u', 'x', 'i', 'c' -> format = c;
                    case 'b' -> sizeGiven = 1;
                    case 'h' -> sizeGiven = 2;
                    case 'w' -> sizeGiven = 4;
                    case 'g', 'L' -> sizeGiven = 8;
                    default -> {
                        if (!Character.isWhitespace(c)) {
                            throw new HumanMonitor.HmpError("invalid char in format: '" + c + "'", true);
                        }
                    }
                }
                if (Character.isWhitespace(c)) {
                    break;
                }
            }
            if (format == 'i') {
                throw new HumanMonitor.HmpError("jvisor: the i format (disassembly) is not supported", false);
            }
            if (sizeGiven > 0) {
                size = sizeGiven;
            }
            lastFormat = format;
            lastSize = size;
            rest = rest.substring(i);
        }
        Expression e = new Expression(rest);
        long address = e.evaluate();
        if (!e.rest().isEmpty()) {
            throw new HumanMonitor.HmpError(command + ": extraneous characters at the end of line", true);
        }
        return lines(address, count, format, size, reader);
    }

    private static String lines(long address, int count, char format, int size, Reader reader) {
        long length = (long) size * count;
        int lineSize = size == 1 ? 8 : 16;
        int unit = format == 'c' ? 1 : size;
        StringBuilder out = new StringBuilder();
        byte[] line = new byte[lineSize];
        while (length > 0) {
            int l = (int) Math.min(length, lineSize);
            out.append(String.format("%016x:", address));
            if (!reader.read(address, line, l)) {
                out.append(" Cannot access memory\r\n");
                break;
            }
            for (int i = 0; i < l; i += unit) {
                out.append(' ').append(value(line, i, unit, format));
            }
            out.append("\r\n");
            address += l;
            length -= l;
        }
        return out.toString();
    }

    private static String value(byte[] b, int at, int size, char format) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (b[at + i] & 0xFF);
        }
        return switch (format) {
            case 'c' -> character((int) v);
            case 'x' -> "0x" + pad(Long.toHexString(v), size * 2, '0');
            case 'o' -> pad(v == 0 ? "0" : "0" + Long.toOctalString(v), (size * 8 + 2) / 3, ' ');
            case 'u' -> pad(Long.toUnsignedString(v), (size * 80 + 32) / 33, ' ');
            default -> pad(Long.toString(size == 8 ? v : v << (64 - size * 8) >> (64 - size * 8)), (size * 80 + 32) / 33, ' ');
        };
    }

    /** QEMU's monitor_printc: quoted, with \' \\ \n \r and \xNN for what is not printable. */
    private static String character(int c) {
        String inner = switch (c) {
            case '\'' -> "\\'";
            case '\\' -> "\\\\";
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            default -> c >= 32 && c <= 126 ? String.valueOf((char) c) : String.format("\\x%02x", c);
        };
        return "'" + inner + "'";
    }

    private static String pad(String s, int width, char with) {
        return s.length() >= width ? s : String.valueOf(with).repeat(width - s.length()) + s;
    }
}
