package org.jvisor.backend.chr;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Raw mode for the host terminal on stdin, as QEMU's -nographic sets it: every key goes to the
 * guest unprocessed (Ctrl-C included), output is not post-processed. The saved settings are
 * restored by {@link #restore()}, which is idempotent and safe to call from a shutdown hook.
 */
public final class Terminal {
    /** glibc x86-64 struct termios is 60 bytes; we only copy it around and let cfmakeraw edit it. */
    private static final long TERMIOS_BYTES = 60;
    private static final int TCSANOW = 0;
    private static final int STDIN = 0;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final MethodHandle ISATTY = handle("isatty", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle TCGETATTR = handle("tcgetattr",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle TCSETATTR = handle("tcsetattr",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle CFMAKERAW = handle("cfmakeraw", FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));

    private final Arena arena = Arena.ofShared();
    private final MemorySegment saved = arena.allocate(TERMIOS_BYTES, 8);
    private boolean raw;

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(), fd);
    }

    public static boolean stdinIsTerminal() {
        try {
            return (int) ISATTY.invokeExact(STDIN) == 1;
        } catch (Throwable t) {
            return false;
        }
    }

    /** Puts stdin in raw mode if it is a terminal; returns whether it did. */
    public synchronized boolean enterRawMode() {
        if (raw || !stdinIsTerminal()) {
            return false;
        }
        try {
            if ((int) TCGETATTR.invokeExact(STDIN, saved) != 0) {
                return false;
            }
            MemorySegment rawSettings = arena.allocate(TERMIOS_BYTES, 8);
            MemorySegment.copy(saved, 0, rawSettings, 0, TERMIOS_BYTES);
            CFMAKERAW.invokeExact(rawSettings);
            // Keep output post-processing (OPOST) so guest "\n" still returns the carriage, as QEMU does.
            int oflag = rawSettings.get(ValueLayout.JAVA_INT, 4);
            rawSettings.set(ValueLayout.JAVA_INT, 4, oflag | 1);
            if ((int) TCSETATTR.invokeExact(STDIN, TCSANOW, rawSettings) != 0) {
                return false;
            }
        } catch (Throwable t) {
            return false;
        }
        raw = true;
        return true;
    }

    /** Restores the settings saved by {@link #enterRawMode()}. */
    public synchronized void restore() {
        if (!raw) {
            return;
        }
        try {
            int rc = (int) TCSETATTR.invokeExact(STDIN, TCSANOW, saved);
            assert rc == 0;
        } catch (Throwable t) {
            // nothing more we can do for the terminal
        }
        raw = false;
    }
}
