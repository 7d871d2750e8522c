/**
 * jvisor as a library: build a virtual machine from a {@link org.jvisor.config.MachineConfig},
 * run, pause, resume, reset, power down and end it, listen to its lifecycle events and ask about
 * its vCPUs and disks, through {@link org.jvisor.api.VirtualMachine}. The command line and the
 * monitors drive machines through this package only; its names follow QEMU's QMP (RunState,
 * ShutdownCause, the SHUTDOWN/POWERDOWN/RESET/STOP/RESUME events).
 */
package org.jvisor.api;
