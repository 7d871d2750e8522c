package org.jvisor.devices.ide;

/** Sense keys and additional sense codes a CD-ROM reports (SPC-4, 4.5.6 and annex D). */
final class Sense {
    private Sense() {
    }

    static final int NO_SENSE = 0x00;
    static final int NOT_READY = 0x02;
    static final int MEDIUM_ERROR = 0x03;
    static final int ILLEGAL_REQUEST = 0x05;
    static final int UNIT_ATTENTION = 0x06;

    static final int ASC_UNRECOVERED_READ_ERROR = 0x11;
    static final int ASC_INVALID_OPCODE = 0x20;
    static final int ASC_LBA_OUT_OF_RANGE = 0x21;
    static final int ASC_INVALID_FIELD_IN_CDB = 0x24;
    static final int ASC_SAVING_PARAMETERS_NOT_SUPPORTED = 0x39;
    static final int ASC_MEDIUM_NOT_PRESENT = 0x3A;
    static final int ASC_NOT_READY_TO_READY_CHANGE = 0x28;
    static final int ASC_MEDIUM_REMOVAL_PREVENTED = 0x53;

    /** ASCQs of 3Ah (SPC-4 annex D): the medium is missing, with the tray closed or open. */
    static final int ASCQ_TRAY_CLOSED = 0x01;
    static final int ASCQ_TRAY_OPEN = 0x02;
    /** 53h/02h MEDIUM REMOVAL PREVENTED. */
    static final int ASCQ_REMOVAL_PREVENTED = 0x02;
}
