package org.jvisor.qmp;

import java.util.ArrayList;
import java.util.List;

/**
 * The human monitor's line editor, echoing as QEMU 7.2's readline does over a socket or stdio
 * (checked byte for byte with socat): after each key that changes the line, the cursor goes back
 * to the line's start (ESC [ D per column), the whole line is written, then ESC [ K; a key that
 * only moves the cursor writes ESC [ C or ESC [ D. Enter (CR or LF, each on its own: CR LF is a
 * line and an empty line, as in QEMU) ends the line with CR LF. Keys: backspace and DEL,
 * Ctrl-A/Ctrl-E (start/end), Ctrl-D (delete under the cursor), Ctrl-W (word back), the arrows
 * (up/down: history), Home/End/Delete (ESC [ 1~ 4~ 3~, ESC O H/F). Other control bytes and unknown
 * escape sequences are dropped; bytes from 32 up are inserted (as Latin-1 characters, so a byte
 * comes back as it went in).
 */
final class HmpReadline {
    /** QEMU's READLINE_CMD_BUF_SIZE less its NUL: a longer line takes no more characters. */
    static final int MAX_LINE = 4095;
    /** QEMU's READLINE_MAX_CMDS. */
    static final int MAX_HISTORY = 64;

    private enum Escape { NONE, ESC, CSI, SS3 }

    private final StringBuilder line = new StringBuilder();
    private int cursor;
    /** The line and cursor as the terminal shows them now. */
    private String shown = "";
    private int shownCursor;
    private Escape escape = Escape.NONE;
    private int escapeParam;
    private final List<String> history = new ArrayList<>();
    /** The history entry being shown (up/down), or -1 for the line being typed. */
    private int historyEntry = -1;

    /** Starts an empty line (after a prompt); the history stays. */
    void reset() {
        line.setLength(0);
        cursor = 0;
        shown = "";
        shownCursor = 0;
        escape = Escape.NONE;
        historyEntry = -1;
    }

    /**
     * One input byte; its echo is appended to {@code echo}. Returns the line when the byte ends
     * it (the editor is then reset for the next), else null.
     */
    String feed(int b, StringBuilder echo) {
        switch (escape) {
            case ESC -> {
                escape = b == '[' ? Escape.CSI : b == 'O' ? Escape.SS3 : Escape.NONE;
                escapeParam = 0;
                return null;
            }
            case CSI -> {
                csi(b);
                update(echo);
                return null;
            }
            case SS3 -> {
                escape = Escape.NONE;
                if (b == 'H') {
                    cursor = 0;
                } else if (b == 'F') {
                    cursor = line.length();
                }
                update(echo);
                return null;
            }
            case NONE -> {
                // below
            }
        }
        switch (b) {
            case 1 -> cursor = 0;
            case 5 -> cursor = line.length();
            case 4 -> deleteAtCursor();
            case 8, 127 -> {
                if (cursor > 0) {
                    line.deleteCharAt(--cursor);
                }
            }
            case 23 -> wordBack();
            case 27 -> escape = Escape.ESC;
            case '\r', '\n' -> {
                String done = line.toString();
                addHistory(done);
                echo.append("\r\n");
                reset();
                return done;
            }
            default -> {
                if (b >= 32 && line.length() < MAX_LINE) {
                    line.insert(cursor++, (char) (b & 0xFF));
                }
            }
        }
        update(echo);
        return null;
    }

    private void csi(int b) {
        if (b >= '0' && b <= '9') {
            escapeParam = Math.min(escapeParam * 10 + (b - '0'), 1000);
            return;
        }
        escape = Escape.NONE;
        switch (b) {
            case 'A' -> historyUp();
            case 'B' -> historyDown();
            case 'C' -> cursor = Math.min(cursor + 1, line.length());
            case 'D' -> cursor = Math.max(cursor - 1, 0);
            case '~' -> {
                switch (escapeParam) {
                    case 1 -> cursor = 0;
                    case 3 -> deleteAtCursor();
                    case 4 -> cursor = line.length();
                    default -> {
                        // not a key the monitor has
                    }
                }
            }
            default -> {
                // an unknown sequence is dropped
            }
        }
    }

    private void deleteAtCursor() {
        if (cursor < line.length()) {
            line.deleteCharAt(cursor);
        }
    }

    /** Ctrl-W: the spaces before the cursor, then the word before them. */
    private void wordBack() {
        int start = cursor;
        while (start > 0 && line.charAt(start - 1) == ' ') {
            start--;
        }
        while (start > 0 && line.charAt(start - 1) != ' ') {
            start--;
        }
        line.delete(start, cursor);
        cursor = start;
    }

    /** As QEMU: empty lines are not kept, and a line already there moves to the end. */
    private void addHistory(String done) {
        if (done.isEmpty()) {
            return;
        }
        history.remove(done);
        if (history.size() == MAX_HISTORY) {
            history.removeFirst();
        }
        history.add(done);
    }

    private void historyUp() {
        if (history.isEmpty() || historyEntry == 0) {
            return;
        }
        historyEntry = historyEntry < 0 ? history.size() - 1 : historyEntry - 1;
        show(history.get(historyEntry));
    }

    private void historyDown() {
        if (historyEntry < 0) {
            return;
        }
        if (historyEntry == history.size() - 1) {
            historyEntry = -1;
            show("");
        } else {
            show(history.get(++historyEntry));
        }
    }

    private void show(String text) {
        line.setLength(0);
        line.append(text);
        cursor = line.length();
    }

    /** Brings the terminal up to date with the line and cursor. */
    private void update(StringBuilder echo) {
        String now = line.toString();
        if (!now.equals(shown)) {
            echo.append("\033[D".repeat(shownCursor)).append(now).append("\033[K");
            shown = now;
            shownCursor = now.length();
        }
        if (cursor != shownCursor) {
            echo.append((cursor > shownCursor ? "\033[C" : "\033[D").repeat(Math.abs(cursor - shownCursor)));
            shownCursor = cursor;
        }
    }

    /** The history, oldest first (info history). */
    List<String> history() {
        return List.copyOf(history);
    }
}
