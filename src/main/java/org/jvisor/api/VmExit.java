package org.jvisor.api;

/**
 * How a virtual machine ended.
 *
 * @param status the exit status jvisor's command line ends with: 0 for a power-off or a quit,
 *               {@code (V << 1) | 1} when the guest wrote V to isa-debug-exit, 1 after an error
 *               or a guest crash
 * @param cause  who ended it and why
 * @param detail a sentence for people ("ACPI: guest entered S5 ...", "isa-debug-exit: ...")
 */
public record VmExit(int status, ShutdownCause cause, String detail) {
}
