package org.jvisor.devices.acpi;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ResetControlTest {
    private final RecordingControl control = new RecordingControl();
    private final ResetControl rc = new ResetControl(control);

    @Test
    void portAndValueMatchTheFadt() {
        assertEquals(0xCF9, ResetControl.PORT);
        assertEquals(0x06, ResetControl.RESET_VALUE);
    }

    @ParameterizedTest
    @ValueSource(ints = {0x06, 0x0E, 0x04})
    void rstCpuResets(int value) {
        rc.write(0, 1, value);
        assertEquals(List.of("reset"), control.calls);
    }

    @Test
    void linuxCf9SequenceReadsBackSysRstThenResets() {
        // Linux's "cf9" reboot: read, write | SYS_RST, then | SYS_RST | RST_CPU.
        int v = (int) rc.read(0, 1);
        assertEquals(0, v);
        rc.write(0, 1, v | 0x02);
        assertEquals(List.of(), control.calls);
        assertEquals(0x02, rc.read(0, 1));
        rc.write(0, 1, v | 0x06);
        assertEquals(List.of("reset"), control.calls);
        rc.reset();
        assertEquals(0, rc.read(0, 1));
    }
}
