package org.jvisor.tcg;

/** The guest triple-faulted (SDM vol. 3, 6.15, interrupt 8): on a PC this resets the machine. */
public final class TripleFaultException extends RuntimeException {
    public TripleFaultException(String description) {
        super(description);
    }
}
