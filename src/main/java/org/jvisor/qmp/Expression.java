package org.jvisor.qmp;

/**
 * An HMP address or number: integers (0x hex, leading-0 octal, decimal) with + - * / % & | ^,
 * unary minus and parentheses, in 64-bit arithmetic; errors in QEMU 7.2's words ("invalid char
 * 'f' in expression", "unexpected end of expression"). QEMU's $register terms are not supported.
 */
final class Expression {
    private final String text;
    private int at;

    Expression(String text) {
        this.text = text;
    }

    /** The whole text as one expression. */
    long evaluateAll() throws HumanMonitor.HmpError {
        long v = evaluate();
        skipSpaces();
        if (at < text.length()) {
            throw error("invalid char '" + text.charAt(at) + "' in expression");
        }
        return v;
    }

    /** One expression from the start; {@link #rest} is what follows it. */
    long evaluate() throws HumanMonitor.HmpError {
        return sum();
    }

    /** The text after the expression read. */
    String rest() {
        return text.substring(at).strip();
    }

    private long sum() throws HumanMonitor.HmpError {
        long v = product();
        while (true) {
            int op = peek();
            if (op != '+' && op != '-' && op != '&' && op != '|' && op != '^') {
                return v;
            }
            at++;
            long w = product();
            v = switch (op) {
                case '+' -> v + w;
                case '-' -> v - w;
                case '&' -> v & w;
                case '|' -> v | w;
                default -> v ^ w;
            };
        }
    }

    private long product() throws HumanMonitor.HmpError {
        long v = unary();
        while (true) {
            int op = peek();
            if (op != '*' && op != '/' && op != '%') {
                return v;
            }
            at++;
            long w = unary();
            if (op != '*' && w == 0) {
                throw error("division by zero");
            }
            v = switch (op) {
                case '*' -> v * w;
                case '/' -> Long.divideUnsigned(v, w);
                default -> Long.remainderUnsigned(v, w);
            };
        }
    }

    private long unary() throws HumanMonitor.HmpError {
        int c = peek();
        if (c < 0) {
            throw error("unexpected end of expression");
        }
        if (c == '+') {
            at++;
            return unary();
        }
        if (c == '-') {
            at++;
            return -unary();
        }
        if (c == '(') {
            at++;
            long v = sum();
            if (peek() != ')') {
                throw error("')' expected");
            }
            at++;
            return v;
        }
        if (c >= '0' && c <= '9') {
            return number();
        }
        throw error("invalid char '" + (char) c + "' in expression");
    }

    /** strtoull with base 0, as QEMU reads a number; one too large is QEMU's "number too large". */
    private long number() throws HumanMonitor.HmpError {
        int radix = 10;
        if (text.startsWith("0x", at) || text.startsWith("0X", at)) {
            radix = 16;
            at += 2;
        } else if (text.charAt(at) == '0') {
            radix = 8;
        }
        int start = at;
        while (at < text.length() && Character.digit(text.charAt(at), radix) >= 0) {
            at++;
        }
        if (start == at) {
            return 0;                                   // "0x" alone: strtoull reads the 0
        }
        try {
            return Long.parseUnsignedLong(text, start, at, radix);
        } catch (NumberFormatException e) {
            throw error("number too large");
        }
    }

    /** The next character after spaces, not consumed; -1 at the end. */
    private int peek() {
        skipSpaces();
        return at < text.length() ? text.charAt(at) : -1;
    }

    private void skipSpaces() {
        while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
            at++;
        }
    }

    private static HumanMonitor.HmpError error(String message) {
        return new HumanMonitor.HmpError(message, true);
    }
}
