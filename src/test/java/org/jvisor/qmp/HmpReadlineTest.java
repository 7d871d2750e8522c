package org.jvisor.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** The line editor's keys and echo, the echo as QEMU 7.2 sent it for the same bytes (socat capture). */
class HmpReadlineTest {
    private static final String ESC = "\033";

    private final HmpReadline r = new HmpReadline();
    private final StringBuilder echo = new StringBuilder();

    private String feed(String text) {
        String line = null;
        for (char c : text.toCharArray()) {
            String l = r.feed(c, echo);
            if (l != null) {
                line = l;
            }
        }
        return line;
    }

    @Test
    void backspaceAndDelEraseAndRedrawAsQemu() {
        assertEquals("staus", feed("stop\u007f\u007fat\bus\r"));
        assertEquals("s" + ESC + "[K" + ESC + "[Dst" + ESC + "[K" + ESC + "[D" + ESC + "[Dsto" + ESC + "[K"
            + ESC + "[D" + ESC + "[D" + ESC + "[Dstop" + ESC + "[K" + ESC + "[D" + ESC + "[D" + ESC + "[D" + ESC + "[Dsto"
            + ESC + "[K" + ESC + "[D" + ESC + "[D" + ESC + "[Dst" + ESC + "[K" + ESC + "[D" + ESC + "[Dsta" + ESC + "[K"
            + ESC + "[D" + ESC + "[D" + ESC + "[Dstat" + ESC + "[K" + ESC + "[D" + ESC + "[D" + ESC + "[D" + ESC + "[Dsta"
            + ESC + "[K" + ESC + "[D" + ESC + "[D" + ESC + "[Dstau" + ESC + "[K" + ESC + "[D" + ESC + "[D" + ESC + "[D"
            + ESC + "[Dstaus" + ESC + "[K\r\n", echo.toString());
    }

    /**
     * The cursor is tracked where the terminal has it. (QEMU 7.2 differs here: after a cursor move
     * its next redraw goes back from where the line ended, one column into the prompt, so its bytes
     * for this input have one, then two ESC [ D more and draw over the prompt's last column.)
     */
    @Test
    void leftArrowInsertsInsideTheLine() {
        assertEquals("infnfoo", feed("info" + ESC + "[Dnfo\n"));
        String back = ESC + "[D";
        assertEquals("i" + ESC + "[K" + back + "in" + ESC + "[K" + back.repeat(2) + "inf" + ESC + "[K" + back.repeat(3)
            + "info" + ESC + "[K" + back + back.repeat(3) + "infno" + ESC + "[K" + back + back.repeat(4) + "infnfo" + ESC + "[K"
            + back + back.repeat(5) + "infnfoo" + ESC + "[K" + back + "\r\n", echo.toString());
    }

    @Test
    void upRecallsTheLastLineAndDownGoesBackToAnEmptyOne() {
        feed("info\n");
        feed("stop\n");
        echo.setLength(0);
        feed(ESC + "[A");
        assertEquals("stop" + ESC + "[K", echo.toString());
        feed(ESC + "[A");
        feed(ESC + "[B" + ESC + "[B");
        assertEquals("", feed("\n"));
        assertEquals(java.util.List.of("info", "stop"), r.history());
    }

    @Test
    void homeEndAndWordErase() {
        assertEquals("x stop", feed("stop\u0001x \u0005\n"));
        assertEquals("info ", feed("info status\u0017\n"));
        assertNull(feed("abc"), "no line before enter");
    }

    @Test
    void aLineStopsGrowingAtQemusBufferSize() {
        String line = feed("a".repeat(HmpReadline.MAX_LINE + 100) + "\n");
        assertEquals(HmpReadline.MAX_LINE, line.length());
    }
}
