package org.jvisor.devices.acpi;

import org.junit.jupiter.api.Test;
import org.jvisor.memory.AddressSpace;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * SMI_EN as SeaBIOS's ich9_lpc_apmc_smm_setup reads it (inl at PMBASE + 0x30): APMC_EN set, so it
 * installs no SMI handler and waits for no SMI; writes change nothing, as there is no SMM.
 */
class Ich9SmiEnableTest {
    @Test
    void readsApmcEnableAndIgnoresWrites() {
        AddressSpace io = new AddressSpace("io", 0x10000);
        io.register("ich9-smi-en", Ich9SmiEnable.PORT, Ich9SmiEnable.SIZE, new Ich9SmiEnable());
        assertEquals(0x630, Ich9SmiEnable.PORT, "PMBASE 0x600 + 0x30");
        assertEquals(Ich9SmiEnable.APMC_EN, io.read(0x630, 4));
        io.write(0x630, 4, 0xFFFF_FFFFL);
        assertEquals(0x20, io.read(0x630, 4));
        assertEquals(0x20, io.read(0x630, 1));
        assertEquals(0, io.read(0x631, 1));
        assertEquals(0, io.read(0x632, 2));
    }
}
