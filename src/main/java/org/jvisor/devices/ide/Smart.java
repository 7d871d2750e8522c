package org.jvisor.devices.ide;

import java.util.Arrays;
import java.util.List;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;

/**
 * A disk's SMART feature set (ATA/ATAPI-6, 8.41) with the answers QEMU 7.2's ide-hd gives
 * (hw/ide/core.c cmd_smart): attributes that never change and no threshold ever exceeded, so
 * RETURN STATUS always reports a good drive; READ DATA and READ ATTRIBUTE THRESHOLDS pages,
 * READ LOG of the error log (no errors) and of the self-test log, EXECUTE OFF-LINE IMMEDIATE
 * recording a passed test, autosave and enable/disable. The 512-byte pages end in a checksum
 * that makes the bytes sum to 0.
 */
final class Smart {
    /** SMART's key in LBA mid/high: every SMART command carries it (else ABRT). */
    static final int KEY_MID = 0x4F;
    static final int KEY_HIGH = 0xC2;
    /** RETURN STATUS's answer in LBA mid/high for a drive past a threshold (never given here). */
    static final int EXCEEDED_MID = 0xF4;
    static final int EXCEEDED_HIGH = 0x2C;
    /** Self-test log descriptors a log page holds. */
    static final int LOG_ENTRIES = 21;
    private static final int DESCRIPTOR_SIZE = 24;

    /** SMART subcommands, by their feature register value. */
    static final int READ_DATA = 0xD0;
    static final int READ_THRESHOLDS = 0xD1;
    static final int ATTRIBUTE_AUTOSAVE = 0xD2;
    static final int EXECUTE_OFFLINE = 0xD4;
    static final int READ_LOG = 0xD5;
    static final int ENABLE = 0xD8;
    static final int DISABLE = 0xD9;
    static final int RETURN_STATUS = 0xDA;

    /** What a SMART command leads to. */
    enum Result { DONE, DATA, ABORT }

    /** One attribute as the data page carries it: id, status flags, value, worst, raw (48 bits), and its threshold. */
    private record Attribute(int id, int flags, int value, int worst, long raw, int threshold) {
    }

    /** QEMU's table (based on a Seagate ST3500418AS): read errors, spin-up, start/stop, remaps, hours, cycles, temperature. */
    private static final List<Attribute> ATTRIBUTES = List.of(
        new Attribute(0x01, 0x03, 0x64, 0x64, 0, 0x06),
        new Attribute(0x03, 0x03, 0x64, 0x64, 0x10, 0),
        new Attribute(0x04, 0x02, 0x64, 0x64, 0x64, 0x14),
        new Attribute(0x05, 0x03, 0x64, 0x64, 0, 0x24),
        new Attribute(0x09, 0x03, 0x64, 0x64, 0x01, 0),
        new Attribute(0x0C, 0x03, 0x64, 0x64, 0, 0),
        new Attribute(190, 0x03, 0x45, 0x45, 0x1F_1F00_1FL, 0x32));

    private boolean enabled = true;
    private boolean autosave = true;
    private int selfTests;
    private final byte[] log = new byte[512];

    /**
     * Runs subcommand {@code feature} ({@code sector}: the LBA low register, its parameter); a
     * page goes to {@code out} (at least 512 bytes) for DATA.
     */
    Result execute(int feature, int sector, byte[] out) {
        if (!enabled && feature != ENABLE) {
            return Result.ABORT;
        }
        switch (feature) {
            case DISABLE -> enabled = false;
            case ENABLE -> enabled = true;
            case RETURN_STATUS -> { }
            case ATTRIBUTE_AUTOSAVE -> {
                if (sector != 0x00 && sector != 0xF1) {
                    return Result.ABORT;
                }
                autosave = sector == 0xF1;
            }
            case EXECUTE_OFFLINE -> {
                if (sector > 2) {       // off-line routine, short and extended self-test
                    return Result.ABORT;
                }
                selfTests = selfTests % LOG_ENTRIES + 1;
                int at = 2 + (selfTests - 1) * DESCRIPTOR_SIZE;
                log[at] = (byte) sector;
                log[at + 1] = 0x00;     // completed without error
                log[at + 2] = 0x34;     // life time in hours: 0x1234
                log[at + 3] = 0x12;
            }
            case READ_DATA -> {
                page(out);
                for (int n = 0; n < ATTRIBUTES.size(); n++) {
                    Attribute a = ATTRIBUTES.get(n);
                    int at = 2 + n * 12;
                    out[at] = (byte) a.id();
                    out[at + 1] = (byte) a.flags();
                    out[at + 3] = (byte) a.value();
                    out[at + 4] = (byte) a.worst();
                    for (int i = 0; i < 6; i++) {
                        out[at + 5 + i] = (byte) (a.raw() >>> (8 * i));
                    }
                }
                out[362] = (byte) (0x02 | (autosave ? 0x80 : 0)); // off-line collection completed
                out[363] = selfTests == 0 ? 0 : log[3 + (selfTests - 1) * DESCRIPTOR_SIZE];
                out[364] = 0x20;        // off-line collection time (s)
                out[365] = 0x01;
                out[367] = 1 << 4 | 1 << 3 | 1; // off-line capability: self-test, execute immediate
                out[368] = 0x03;        // SMART capability: attribute autosave, saved on power mode change
                out[370] = 0x01;        // error logging
                out[372] = 0x02;        // polling minutes: short self-test
                out[373] = 0x36;        // extended
                out[374] = 0x01;        // conveyance
                checksum(out);
                return Result.DATA;
            }
            case READ_THRESHOLDS -> {
                page(out);
                for (int n = 0; n < ATTRIBUTES.size(); n++) {
                    out[2 + n * 12] = (byte) ATTRIBUTES.get(n).id();
                    out[3 + n * 12] = (byte) ATTRIBUTES.get(n).threshold();
                }
                checksum(out);
                return Result.DATA;
            }
            case READ_LOG -> {
                if (sector == 0x01) {   // summary error log: no errors
                    page(out);
                } else if (sector == 0x06) { // self-test log
                    page(out);
                    if (selfTests > 0) {
                        System.arraycopy(log, 2, out, 2, LOG_ENTRIES * DESCRIPTOR_SIZE);
                        out[508] = (byte) selfTests;
                    }
                } else {
                    return Result.ABORT;
                }
                checksum(out);
                return Result.DATA;
            }
            default -> {
                return Result.ABORT;
            }
        }
        return Result.DONE;
    }

    /** A cleared page with the data structure revision 1. */
    private static void page(byte[] out) {
        Arrays.fill(out, 0, 512, (byte) 0);
        out[0] = 0x01;
    }

    /** Byte 511: the two's complement of the sum of the others. */
    private static void checksum(byte[] out) {
        int sum = 0;
        for (int i = 0; i < 511; i++) {
            sum += out[i];
        }
        out[511] = (byte) -sum;
    }

    SmartState save() {
        return new SmartState(enabled, autosave, selfTests, Bytes.copyOf(log));
    }

    void restore(String where, SmartState s) throws DeviceStateException {
        DeviceStateException.checkRange(where, "SMART self-tests", s.selfTests(), 0, LOG_ENTRIES);
        DeviceStateException.checkRange(where, "SMART log length", s.log().length(), log.length, log.length);
        enabled = s.enabled();
        autosave = s.autosave();
        selfTests = s.selfTests();
        s.log().copyTo(log, 0);
    }
}
