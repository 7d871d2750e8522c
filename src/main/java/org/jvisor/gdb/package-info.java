/**
 * QEMU's GDB stub for jvisor: the GDB Remote Serial Protocol (GDB manual, appendix E "Remote
 * Protocol") over TCP or a UNIX socket ({@code -s}, {@code -gdb}), so that {@code gdb vmlinux -ex
 * 'target remote :1234'} works on a jvisor guest as on QEMU 7.2's TCG. {@link
 * org.jvisor.gdb.RspChannel} frames packets (checksums, acks, escapes, Ctrl-C), {@link
 * org.jvisor.gdb.GdbSession} answers one client's packets against a {@link
 * org.jvisor.gdb.DebugTarget}, {@link org.jvisor.gdb.GdbRegister} and {@link
 * org.jvisor.gdb.TargetDescription} give QEMU's x86-64 register layout, and {@link
 * org.jvisor.gdb.GdbServer} accepts one client at a time. What QEMU 7.2 answers was checked
 * against it with {@code set debug remote 1} and a raw client; where jvisor differs, the code says.
 */
package org.jvisor.gdb;
