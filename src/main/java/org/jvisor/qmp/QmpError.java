package org.jvisor.qmp;

/**
 * A command's failure as QMP reports it: {"error": {"class": C, "desc": D}} (qapi/error.json).
 * Thrown by command handlers; the session turns it into the reply.
 */
final class QmpError extends Exception {

    /** QEMU's ErrorClass values. */
    enum ErrorClass { GenericError, CommandNotFound, DeviceNotActive, DeviceNotFound, KVMMissingCap }

    private final ErrorClass errorClass;

    QmpError(ErrorClass errorClass, String desc) {
        super(desc);
        this.errorClass = errorClass;
    }

    static QmpError generic(String desc) {
        return new QmpError(ErrorClass.GenericError, desc);
    }

    ErrorClass errorClass() {
        return errorClass;
    }
}
