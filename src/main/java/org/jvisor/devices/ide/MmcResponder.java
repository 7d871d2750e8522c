package org.jvisor.devices.ide;

import java.util.Arrays;

/**
 * The SCSI/MMC side of an ATAPI CD-ROM: decodes a 12-byte command packet and says what follows
 * (no data, a reply it wrote, blocks of the medium, or a CHECK CONDITION), with the reply bytes
 * QEMU 7.2's ide-cd gives (hw/ide/atapi.c): INQUIRY "QEMU    QEMU DVD-ROM    2.5+", MODE SENSE
 * pages 0x01 and 0x2A, GET CONFIGURATION's profile list, READ TOC formats 0 and 1, the media
 * event status of the {@link CdromTray}. The medium is read-only, in 2048-byte blocks; its size
 * is the one of the last tray movement ({@link #medium}), as QEMU's nb_sectors.
 */
final class MmcResponder {
    static final int BLOCK_SIZE = 2048;
    /** More blocks than a CD holds: the medium is a DVD (MMC-6 profile 0x0010). */
    static final long CD_MAX_BLOCKS = 404_171;

    /** What a command leads to. */
    sealed interface Outcome {
    }

    /** Done, no data. */
    record Good() implements Outcome {
    }

    /** {@code length} bytes of reply in the reply buffer. */
    record Reply(int length) implements Outcome {
    }

    /** {@code blocks} blocks of the medium from {@code lba}. */
    record ReadBlocks(long lba, long blocks) implements Outcome {
    }

    /** CHECK CONDITION with this sense. */
    record Check(int senseKey, int asc, int ascq) implements Outcome {
        Check(int senseKey, int asc) {
            this(senseKey, asc, 0);
        }
    }

    private static final Good GOOD = new Good();

    /** Media event codes and status bits of GET EVENT STATUS NOTIFICATION (MMC-6, table 155-156). */
    static final int MEDIA_NO_CHANGE = 0;
    static final int MEDIA_EJECT_REQUEST = 1;
    static final int MEDIA_NEW_MEDIA = 2;
    static final int MEDIA_TRAY_OPEN = 0x01;
    static final int MEDIA_PRESENT = 0x02;

    private final CdromTray tray;
    private long blocks;

    MmcResponder(long blocks, CdromTray tray) {
        this.blocks = blocks;
        this.tray = tray;
    }

    long blocks() {
        return blocks;
    }

    /** The medium now in the tray has {@code blocks} blocks (0: none). */
    void medium(long blocks) {
        this.blocks = blocks;
    }

    /** A medium is there to read: the tray is closed on one (QEMU's media_present). */
    boolean mediumPresent() {
        return !tray.open && blocks > 0;
    }

    /**
     * Executes {@code cdb}; a reply goes to {@code out} (at least 4 KiB).
     *
     * @param senseKey the sense data to report for REQUEST SENSE: key, ASC and ASCQ
     * @param inserted whether the drive holds a medium, in or out of the closed tray
     */
    Outcome execute(byte[] cdb, byte[] out, int senseKey, int asc, int ascq, boolean inserted) {
        MmcCommand c = MmcCommand.of(cdb[0]);
        if (c == null) {
            return new Check(Sense.ILLEGAL_REQUEST, Sense.ASC_INVALID_OPCODE);
        }
        return switch (c) {
            case TEST_UNIT_READY, START_STOP_UNIT, PREVENT_ALLOW_MEDIUM_REMOVAL, SET_CD_SPEED -> GOOD;
            case SEEK_10 -> u32(cdb, 2) >= blocks ? new Check(Sense.ILLEGAL_REQUEST, Sense.ASC_LBA_OUT_OF_RANGE) : GOOD;
            case REQUEST_SENSE -> reply(out, requestSense(out, senseKey, asc, ascq), u8(cdb, 4));
            case INQUIRY -> (cdb[1] & 1) != 0 ? new Check(Sense.ILLEGAL_REQUEST, Sense.ASC_INVALID_FIELD_IN_CDB)
                : reply(out, inquiry(out), u16(cdb, 3));
            case READ_CAPACITY -> reply(out, readCapacity(out), 8);
            case READ_10 -> read(u32(cdb, 2), u16(cdb, 7));
            case READ_12 -> read(u32(cdb, 2), u32(cdb, 6));
            case MODE_SENSE_10 -> modeSense(cdb, out, tray.locked);
            case READ_TOC -> readToc(cdb, out);
            case GET_CONFIGURATION -> reply(out, getConfiguration(out), u16(cdb, 7));
            case GET_EVENT_STATUS_NOTIFICATION -> eventStatus(cdb, out, inserted);
        };
    }

    private Outcome read(long lba, long count) {
        if (lba + count > blocks) {
            return new Check(Sense.ILLEGAL_REQUEST, Sense.ASC_LBA_OUT_OF_RANGE);
        }
        return count == 0 ? GOOD : new ReadBlocks(lba, count);
    }

    private static Outcome reply(byte[] out, int length, int allocation) {
        int n = Math.min(length, allocation);
        return n == 0 ? GOOD : new Reply(n);
    }

    /** Fixed-format sense data (SPC-4, 4.5.3). */
    private static int requestSense(byte[] out, int key, int asc, int ascq) {
        Arrays.fill(out, 0, 18, (byte) 0);
        out[0] = 0x70;          // current error, fixed format
        out[2] = (byte) key;
        out[7] = 10;            // additional length
        out[12] = (byte) asc;
        out[13] = (byte) ascq;
        return 18;
    }

    /** Standard INQUIRY data: a removable CD/DVD device, as QEMU answers it. */
    private static int inquiry(byte[] out) {
        Arrays.fill(out, 0, 36, (byte) 0);
        out[0] = 0x05;          // CD/DVD device
        out[1] = (byte) 0x80;   // removable
        out[2] = 0x00;
        out[3] = 0x21;          // ATAPI, response data format 1
        out[4] = 31;            // additional length
        ascii(out, 8, "QEMU", 8);
        ascii(out, 16, IdentifyData.CDROM_MODEL, 16);
        ascii(out, 32, IdentifyData.FIRMWARE, 4);
        return 36;
    }

    private int readCapacity(byte[] out) {
        putU32(out, 0, Math.max(0, blocks - 1));
        putU32(out, 4, BLOCK_SIZE);
        return 8;
    }

    /** MODE SENSE(10): the current values of page 0x01 (error recovery) and 0x2A (capabilities). */
    private static Outcome modeSense(byte[] cdb, byte[] out, boolean locked) {
        int control = (cdb[2] & 0xFF) >> 6;
        int page = cdb[2] & 0x3F;
        int allocation = u16(cdb, 7);
        if (control == 3) {
            return new Check(Sense.ILLEGAL_REQUEST, Sense.ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
        }
        if (control != 0 || (page != 0x01 && page != 0x2A)) {
            return new Check(Sense.ILLEGAL_REQUEST, Sense.ASC_INVALID_FIELD_IN_CDB);
        }
        int pageLength = page == 0x01 ? 12 : 20;
        int total = 8 + pageLength;
        Arrays.fill(out, 0, total, (byte) 0);
        putU16(out, 0, total - 2);
        out[2] = 0x70;          // medium type: door closed, no disc type
        out[8] = (byte) page;
        out[9] = (byte) (pageLength - 2);
        if (page == 0x01) {
            out[11] = 0x05;     // read retry count
        } else {
            out[10] = 0x3B;     // reads CD-R, CD-RW, DVD-ROM, DVD-R, DVD-RAM
            out[12] = 0x71;     // multisession, mode 2 form 1/2, audio play
            out[13] = 0x60;
            out[14] = (byte) (0x29 | (locked ? 0x02 : 0)); // lock (and its state), eject, tray loading
            putU16(out, 16, 704); // maximum read speed: 4x
            out[19] = 2;        // volume levels
            putU16(out, 20, 512); // buffer size (KiB)
            putU16(out, 22, 704); // current read speed
        }
        return reply(out, total, allocation);
    }

    /** READ TOC/PMA/ATIP formats 0 (the one data track and the lead-out) and 1 (session information). */
    private Outcome readToc(byte[] cdb, byte[] out) {
        boolean msf = (cdb[1] & 2) != 0;
        int format = cdb[2] & 0x0F;
        int track = u8(cdb, 6);
        int allocation = u16(cdb, 7);
        if (format == 0) {
            if (track > 1 && track != 0xAA) {
                return new Check(Sense.ILLEGAL_REQUEST, Sense.ASC_INVALID_FIELD_IN_CDB);
            }
            int at = 4;
            if (track <= 1) {
                at = tocEntry(out, at, 1, 0, msf);
            }
            at = tocEntry(out, at, 0xAA, blocks, msf);
            putU16(out, 0, at - 2);
            out[2] = 1;
            out[3] = 1;
            return reply(out, at, allocation);
        }
        if (format == 1) {
            Arrays.fill(out, 0, 12, (byte) 0);
            putU16(out, 0, 10);
            out[2] = 1;
            out[3] = 1;
            tocEntry(out, 4, 1, 0, msf);
            return reply(out, 12, allocation);
        }
        return new Check(Sense.ILLEGAL_REQUEST, Sense.ASC_INVALID_FIELD_IN_CDB);
    }

    private static int tocEntry(byte[] out, int at, int track, long lba, boolean msf) {
        out[at] = 0;
        out[at + 1] = 0x14;     // ADR 1, data track
        out[at + 2] = (byte) track;
        out[at + 3] = 0;
        if (msf) {
            long f = lba + 150;
            out[at + 4] = 0;
            out[at + 5] = (byte) (f / (75 * 60));
            out[at + 6] = (byte) (f / 75 % 60);
            out[at + 7] = (byte) (f % 75);
        } else {
            putU32(out, at + 4, lba);
        }
        return at + 8;
    }

    /** GET CONFIGURATION: the feature header with the current profile (none without a medium) and the profile list. */
    private int getConfiguration(byte[] out) {
        Arrays.fill(out, 0, 20, (byte) 0);
        int current = !mediumPresent() ? 0 : blocks > CD_MAX_BLOCKS ? 0x0010 : 0x0008;
        putU32(out, 0, 16);     // data length: bytes after this field
        putU16(out, 6, current);
        putU16(out, 8, 0x0000); // feature 0: profile list
        out[10] = 0x03;         // persistent, current
        out[11] = 8;            // two profile descriptors
        putU16(out, 12, 0x0010); // DVD-ROM
        out[14] = (byte) (current == 0x0010 ? 1 : 0);
        putU16(out, 16, 0x0008); // CD-ROM
        out[18] = (byte) (current == 0x0008 ? 1 : 0);
        return 20;
    }

    /**
     * GET EVENT STATUS NOTIFICATION, polled (MMC-6, 6.6): the media class with the tray's state and
     * its oldest undelivered event, which it consumes: new media, else an eject request; none
     * while the tray is open (as QEMU).
     */
    private Outcome eventStatus(byte[] cdb, byte[] out, boolean inserted) {
        if ((cdb[1] & 1) == 0) {
            return new Check(Sense.ILLEGAL_REQUEST, Sense.ASC_INVALID_FIELD_IN_CDB); // asynchronous: not supported
        }
        int allocation = u16(cdb, 7);
        int classes = u8(cdb, 4);
        Arrays.fill(out, 0, 8, (byte) 0);
        out[3] = 0x10;          // supported: media
        if ((classes & 0x10) == 0) {
            putU16(out, 0, 2);
            out[2] = (byte) 0x80; // no event available
            return reply(out, 4, allocation);
        }
        int event = MEDIA_NO_CHANGE;
        if (!tray.open && tray.newMedia) {
            event = MEDIA_NEW_MEDIA;
            tray.newMedia = false;
        } else if (!tray.open && tray.ejectRequest) {
            event = MEDIA_EJECT_REQUEST;
            tray.ejectRequest = false;
        }
        putU16(out, 0, 6);
        out[2] = 0x04;          // media class
        out[4] = (byte) event;
        out[5] = (byte) (tray.open ? MEDIA_TRAY_OPEN : inserted ? MEDIA_PRESENT : 0);
        return reply(out, 8, allocation);
    }

    private static int u8(byte[] b, int at) {
        return b[at] & 0xFF;
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xFF) << 8 | b[at + 1] & 0xFF;
    }

    private static long u32(byte[] b, int at) {
        return ((long) u16(b, at) << 16 | u16(b, at + 2)) & 0xFFFF_FFFFL;
    }

    private static void putU16(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 8);
        b[at + 1] = (byte) v;
    }

    private static void putU32(byte[] b, int at, long v) {
        putU16(b, at, (int) (v >>> 16));
        putU16(b, at + 2, (int) v);
    }

    private static void ascii(byte[] b, int at, String s, int length) {
        for (int i = 0; i < length; i++) {
            b[at + i] = (byte) (i < s.length() ? s.charAt(i) : ' ');
        }
    }
}
